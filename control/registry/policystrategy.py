"""The strategy of policy/v1 PodDisruptionBudget (pkg/registry/policy/poddisruptionbudget): a
new budget starts with an empty status (every count 0, nothing observed), its status is written
only through ``/status`` (by the disruption controller and the eviction subresource) and checked
there. Registered into ``strategies.STRATEGIES``. Pure: objects in, objects out.
"""

from __future__ import annotations

import datetime as dt

from common.errors import Cause
from common.resources import ResourceType
from control.registry.strategies import STRATEGIES, Obj, Strategy
from control.validation.policy import validate_pdb_status


def empty_status() -> Obj:
    """PodDisruptionBudgetStatus{}: its four counts are not omitempty in policy/v1."""
    return {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}


class PodDisruptionBudgetStrategy(Strategy):
    always_generation = True

    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        obj["status"] = empty_status()

    def validate_status(self, new: Obj, old: Obj) -> list[Cause]:
        status = new.get("status")
        return validate_pdb_status(status if isinstance(status, dict) else {})


STRATEGIES[("policy", "poddisruptionbudgets")] = PodDisruptionBudgetStrategy()
