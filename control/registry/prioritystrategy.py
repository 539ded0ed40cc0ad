"""The strategy of scheduling.k8s.io/v1 PriorityClass: ``preemptionPolicy`` defaults to
PreemptLowerPriority, and the Priority admission plugin keeps a single global default.
Registered into ``strategies.STRATEGIES``. Pure: the classes come through ``Admission``."""

from __future__ import annotations

import datetime as dt

from common.resources import ResourceType
from control.registry import priority
from control.registry.strategies import STRATEGIES, Admission, Obj, Strategy


class PriorityClassStrategy(Strategy):
    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        self.default(obj)

    def default(self, obj: Obj) -> None:
        obj.setdefault("preemptionPolicy", priority.PREEMPT_LOWER_PRIORITY)

    def admit(self, obj: Obj, admission: Admission) -> None:
        if admission.priority_classes is not None:
            priority.admit_class(obj, admission.priority_classes(fresh=True))


STRATEGIES[("scheduling.k8s.io", "priorityclasses")] = PriorityClassStrategy()
