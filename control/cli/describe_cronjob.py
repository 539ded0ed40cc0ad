"""``describe cronjob`` in kubectl's layout (``describeCronJob``): the schedule and policies,
the job template (``describeJobTemplate``), the last schedule time, the active Jobs and the
events. Pure; registered with ``control.cli.describers``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from common.cronjobprinting import bool_ptr
from common.humanize import rfc1123z
from common.printers import format_selector
from control.cli.describe_apps import describe_pod_template
from control.cli.describers import Obj, Text, _annotations, _labels, events_section, register

UNSET = "<unset>"


def _m(obj: object, key: str) -> Obj:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _or_unset(value: object, suffix: str = "") -> str:
    return UNSET if value is None else f"{value}{suffix}"


def _job_template(w: Text, template: Obj) -> None:
    spec = _m(template, "spec")
    selector = spec.get("selector")
    w.write(0, f"Selector:\t{UNSET if selector is None else format_selector(selector)}\n")
    w.write(0, f"Parallelism:\t{_or_unset(spec.get('parallelism'))}\n")
    w.write(0, f"Completions:\t{_or_unset(spec.get('completions'))}\n")
    if spec.get("activeDeadlineSeconds") is not None:
        w.write(0, f"Active Deadline Seconds:\t{spec['activeDeadlineSeconds']}s\n")
    describe_pod_template(w, _m(spec, "template"))


def describe_cronjob(cronjob: Obj, events: Sequence[Obj] | None, now: dt.datetime) -> str:
    meta, spec, status = _m(cronjob, "metadata"), _m(cronjob, "spec"), _m(cronjob, "status")
    w = Text()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, meta.get("annotations"))
    w.write(0, f"Schedule:\t{spec.get('schedule', '')}\n")
    w.write(0, f"Concurrency Policy:\t{spec.get('concurrencyPolicy', '')}\n")
    w.write(0, f"Suspend:\t{bool_ptr(spec.get('suspend'))}\n")
    w.write(
        0, f"Successful Job History Limit:\t{_or_unset(spec.get('successfulJobsHistoryLimit'))}\n"
    )
    w.write(0, f"Failed Job History Limit:\t{_or_unset(spec.get('failedJobsHistoryLimit'))}\n")
    w.write(
        0, f"Starting Deadline Seconds:\t{_or_unset(spec.get('startingDeadlineSeconds'), 's')}\n"
    )
    _job_template(w, _m(spec, "jobTemplate"))
    last = status.get("lastScheduleTime")
    w.write(0, f"Last Schedule Time:\t{rfc1123z(last) if last else UNSET}\n")
    names = [str(a.get("name", "")) for a in status.get("active") or [] if isinstance(a, Mapping)]
    w.write(0, f"Active Jobs:\t{', '.join(names) if names else '<none>'}\n")
    events_section(w, events, now)
    return w.text()


register("cronjobs", describe_cronjob)
