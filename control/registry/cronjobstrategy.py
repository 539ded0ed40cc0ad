"""The strategy of batch/v1 CronJob (pkg/registry/batch/cronjob/strategy.go): an empty status on
create, status only through ``/status``, and the v1 defaults (Allow, not suspended, history
limits 3 and 1). Registered into ``strategies.STRATEGIES``. Pure: objects in, objects out.
"""

from __future__ import annotations

import datetime as dt

from common.resources import ResourceType
from control.registry.strategies import STRATEGIES, Obj, Strategy
from control.validation.cronjob import default_cronjob


class CronJobStrategy(Strategy):
    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        obj["status"] = {}
        self.default(obj)

    def default(self, obj: Obj) -> None:
        default_cronjob(obj)


STRATEGIES[("batch", "cronjobs")] = CronJobStrategy()
