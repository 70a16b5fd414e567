"""The FedsLLM solvers' settings that the command line needs before anything is solved: which engine
answers Problem (17), up to how many users Ipopt runs, and the default tolerances. No numerical library
is imported here, so `--help` and the range checks start without Pyomo or the engines."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

DEFAULT_GAP = 1e-9  # the structured engine's relative gap between its upper and lower bound
GLOBAL_TOLERANCE = 1e-6  # the certified search over (0, 1): relative gap at which it stops


class Engine(Enum):
    auto = "auto"  # ipopt up to ipopt_max_users users, structured above
    ipopt = "ipopt"  # Ipopt on an NLP built once, re-solved at each eta
    structured = "structured"  # per-user closed forms and a dual search, with certified bounds
    ipopt_rewrite = "ipopt_rewrite"  # Ipopt writing the NL file at every solve (the first path; for comparisons)


# Chosen from `./fedsplit bench fedsllm_engines` (README): Ipopt's search passes ~10 s near K = 200.
IPOPT_MAX_USERS = 200
CERTIFY_MAX_USERS = 20_000
# Problem (16) by Ipopt from several starts (a cross-check) up to here: 4 solves of the non-convex NLP cost
# about 25 s at K = 5,000 each; the structured engine cross-checks (16) at any K.
MULTISTART_MAX_USERS = 200


@dataclass(frozen=True)
class EngineSettings:
    """Which engine solves (17) at each eta, and how far its answers are certified."""

    engine: Engine = Engine.auto
    gap: float = DEFAULT_GAP  # the structured engine's relative gap between its bounds
    ipopt_max_users: int = IPOPT_MAX_USERS  # `auto` uses Ipopt up to this many users
    certify_max_users: int = CERTIFY_MAX_USERS  # the final Ipopt re-solve and KKT certificate up to here

    def chosen(self, users: int) -> Engine:
        if self.engine is Engine.auto:
            return Engine.ipopt if users <= self.ipopt_max_users else Engine.structured
        return self.engine

    def certifies_by_kkt(self, users: int) -> bool:
        """Whether the final point is re-solved by Ipopt for the Lemma 3/KKT certificate."""
        return self.chosen(users) is not Engine.structured or users <= self.certify_max_users
