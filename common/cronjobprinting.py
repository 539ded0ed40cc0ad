"""How kubectl prints CronJobs (pkg/printers/internalversion: printCronJob and its column
definitions): ``NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE``, and the template's
containers, images and selector with ``-o wide``. Pure: ``now`` is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from common.columns import Column
from common.humanize import age

Obj = Mapping[str, Any]
NONE = "<none>"

_DOCS = {
    "schedule": "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
    "timeZone": "The time zone name for the given schedule, see "
    "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will "
    "default to the time zone of the kube-controller-manager process.",
    "suspend": "This flag tells the controller to suspend subsequent executions, it does not "
    "apply to already started executions.  Defaults to false.",
    "active": "A list of pointers to currently running jobs.",
    "lastScheduleTime": "Information when was the last time the job was successfully scheduled.",
    "selector": "A label query over pods that should match the pod count. Normally, the system "
    "sets this field for you. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
}


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def bool_ptr(value: Any) -> str:
    """printBoolPtr."""
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def cronjob_cells(cj: Obj, now: dt.datetime) -> list[str]:
    meta, spec, status = _m(cj.get("metadata")), _m(cj.get("spec")), _m(cj.get("status"))
    last = status.get("lastScheduleTime")
    pod_spec = _m(_m(_m(_m(spec.get("jobTemplate")).get("spec")).get("template")).get("spec"))
    containers = [c for c in pod_spec.get("containers") or [] if isinstance(c, Mapping)]
    return [
        str(meta.get("name", "")),
        str(spec.get("schedule", "")),
        str(spec["timeZone"]) if spec.get("timeZone") is not None else NONE,
        bool_ptr(spec.get("suspend")),
        str(len(status.get("active") or [])),
        age(last, now) if last else NONE,
        age(meta.get("creationTimestamp"), now),
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
        NONE,  # a CronJob's job template never has a selector: it is generated per Job
    ]


def cronjob_columns(name: Column, age_column: Column) -> tuple[Column, ...]:
    """The columns of printCronJob, around the common Name and Age columns."""
    return (
        name,
        Column("Schedule", description=_DOCS["schedule"]),
        Column("Timezone", description=_DOCS["timeZone"]),
        Column("Suspend", type="boolean", description=_DOCS["suspend"]),
        Column("Active", type="integer", description=_DOCS["active"], integer=True),
        Column("Last Schedule", description=_DOCS["lastScheduleTime"]),
        age_column,
        Column("Containers", 1, description="Names of each container in the template."),
        Column("Images", 1, description="Images referenced by each container in the template."),
        Column("Selector", 1, description=_DOCS["selector"]),
    )
