"""The eta search as the tests run it: on a fresh EtaSearch, with the model that holds the optimum."""

from __future__ import annotations

import pyomo.environ as pyo

from data.fedsllm.inputs import FedsllmInputs
from solvers.fedsllm.search import EngineSettings, EtaGrid, EtaSearch, EtaSearchResult
from solvers.runtime.ipopt import IpoptSolver


def solve_fedsllm(inputs: FedsllmInputs, grid: EtaGrid, solver: IpoptSolver, refine_tolerance: float | None = 1e-6,
                  extra_etas: tuple[float, ...] = (), engine: EngineSettings | None = None
                  ) -> tuple[EtaSearchResult, pyo.ConcreteModel | None]:
    """The result and the model holding the optimum (None when the duality gap alone certifies it)."""
    search = EtaSearch(inputs, solver, engine=engine)
    return search.run(grid, refine_tolerance, extra_etas), search.model
