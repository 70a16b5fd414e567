"""Ipopt on a Pyomo model through cyipopt and PyNumero, without Pyomo's output pipe.

Pyomo's `cyipopt` solver captures Ipopt's output with `capture_output(capture_fd=True)`: a pipe drained by
a Python thread, which cannot run while Ipopt holds the GIL between callbacks, so a long enough log
(a high print_level on a large model) blocks the run in write(1). It also runs the whole solve, NL file
and all, as one call. Here the same steps (PyomoNLP, CyIpoptNLP, options, solve, load the point and the
multipliers, a SolverResults) with Ipopt's output in a temporary file, and only the call into Ipopt inside
`native_section` (a stop meanwhile ends Ipopt at its next iteration through the intermediate callback);
building the NLP, which takes minutes at 20,000 users, stops at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from pyomo.contrib.pynumero.algorithms.solvers.cyipopt_solver import _cyipopt_status_enum, _ipopt_term_cond
from pyomo.contrib.pynumero.interfaces.cyipopt_interface import CyIpoptNLP
from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP
from pyomo.core import Objective, minimize
from pyomo.opt import SolverResults, TerminationCondition

from solvers.runtime.native import native_output_to_file
from solvers.runtime.stopping import native_section


def run_ipopt(problem, x0: np.ndarray, lagrange=None, zl=None, zu=None) -> tuple[np.ndarray, dict]:
    """cyipopt's `problem.solve` (starting multipliers optional), its output in a file, a stop deferred to
    Ipopt's next iteration."""
    with native_section(), native_output_to_file():
        return problem.solve(x0, lagrange=[] if lagrange is None else lagrange, zl=[] if zl is None else zl,
                             zu=[] if zu is None else zu)


def solve_model_keeping_nlp(model, options: Mapping[str, object], intermediate_callback: Callable
                            ) -> tuple[SolverResults, PyomoNLP]:
    """Ipopt on `model` (one active objective, no grey boxes) as Pyomo's cyipopt solver does it; the point
    and the multipliers are loaded into the model (its `dual` suffix, when it has one). Also returns the
    model's PyomoNLP holding the solution: its derivatives (the certificate's KKT residuals) then need no
    second NL file."""
    nlp = PyomoNLP(model)
    problem = CyIpoptNLP(nlp, intermediate_callback=intermediate_callback)
    scaling = problem.scaling_factors()
    if any(factor is not None for factor in scaling):
        objective, variables, constraints = scaling
        problem.set_problem_scaling(1.0 if objective is None else objective,
                                    np.ones(len(problem.x_lb())) if variables is None else variables,
                                    np.ones(len(problem.g_lb())) if constraints is None else constraints)
    for name, value in options.items():
        problem.add_option(name, value)
    x, info = run_ipopt(problem, problem.x_init())
    nlp.set_primals(x)
    nlp.set_duals(info["mult_g"])
    nlp.load_state_into_pyomo(bound_multipliers=(info["mult_x_L"], info["mult_x_U"]))
    problem.close()
    return _results(model, info, len(problem.x_lb()), len(problem.g_lb())), nlp


def _results(model, info: dict, variables: int, constraints: int) -> SolverResults:
    results = SolverResults()
    results.problem.name = model.name
    objective = next(model.component_data_objects(Objective, active=True))
    results.problem.sense = objective.sense
    if objective.sense == minimize:
        results.problem.upper_bound = info["obj_val"]
    else:
        results.problem.lower_bound = info["obj_val"]
    results.problem.number_of_constraints = constraints
    results.problem.number_of_variables = variables
    results.solver.name = "cyipopt"
    results.solver.return_code = info["status"]
    results.solver.message = info["status_msg"]
    condition = _ipopt_term_cond[_cyipopt_status_enum[info["status_msg"]]]
    results.solver.termination_condition = condition
    results.solver.status = TerminationCondition.to_solver_status(condition)
    return results
