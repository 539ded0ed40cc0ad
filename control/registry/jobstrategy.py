"""The strategy of batch/v1 Job (pkg/registry/batch/job/strategy.go): an empty status on
create, the generated selector and pod labels (unless ``spec.manualSelector``), the v1 defaults,
and the checks of a status written through ``/status``. Registered into
``strategies.STRATEGIES``. Pure: objects in, objects out.
"""

from __future__ import annotations

import datetime as dt

from common.batch import default_job, generate_selector
from common.errors import Cause
from common.resources import ResourceType
from control.registry.strategies import STRATEGIES, Obj, Strategy
from control.validation.batchstatus import validate_job_status_update


class JobStrategy(Strategy):
    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        obj["status"] = {}
        generate_selector(obj)
        self.default(obj)

    def default(self, obj: Obj) -> None:
        default_job(obj)

    def validate_status(self, new: Obj, old: Obj) -> list[Cause]:
        return validate_job_status_update(new, old)


STRATEGIES[("batch", "jobs")] = JobStrategy()
