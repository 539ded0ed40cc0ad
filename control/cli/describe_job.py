"""``describe job`` in kubectl's layout (``describeJob``): the spec's counts and mode, start and
completion times, the pods' statuses from the Job's status, the pod template and the events.
Pure; registered with ``control.cli.describers``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from common.humanize import rfc1123z
from common.jobprinting import job_duration
from common.printers import format_selector
from control.cli.describe_apps import describe_pod_template
from control.cli.describers import Obj, Text, _annotations, _labels, events_section, register


def _m(obj: object, key: str) -> Obj:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _spec_lines(w: Text, spec: Obj) -> None:
    w.write(0, f"Parallelism:\t{int(spec.get('parallelism') or 0)}\n")
    completions = spec.get("completions")
    w.write(0, f"Completions:\t{'<unset>' if completions is None else int(completions)}\n")
    w.write(0, f"Completion Mode:\t{spec.get('completionMode') or 'NonIndexed'}\n")
    w.write(0, f"Suspend:\t{'true' if spec.get('suspend') else 'false'}\n")
    w.write(0, f"Backoff Limit:\t{int(spec.get('backoffLimit') or 0)}\n")
    if spec.get("ttlSecondsAfterFinished") is not None:
        w.write(0, f"TTL Seconds After Finished:\t{int(spec['ttlSecondsAfterFinished'])}\n")


def describe_job(job: Obj, events: Sequence[Obj] | None, now: dt.datetime) -> str:
    meta, spec, status = _m(job, "metadata"), _m(job, "spec"), _m(job, "status")
    w = Text()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"Selector:\t{format_selector(spec.get('selector'))}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, meta.get("annotations"))
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner:
        w.write(0, f"Controlled By:\t{owner.get('kind', '')}/{owner.get('name', '')}\n")
    _spec_lines(w, spec)
    if status.get("startTime"):
        w.write(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    if status.get("completionTime"):
        w.write(0, f"Completed At:\t{rfc1123z(status['completionTime'])}\n")
    if status.get("startTime"):
        w.write(0, f"Duration:\t{job_duration(job, now)}\n")
    if spec.get("activeDeadlineSeconds") is not None:
        w.write(0, f"Active Deadline Seconds:\t{int(spec['activeDeadlineSeconds'])}s\n")
    w.write(
        0,
        f"Pods Statuses:\t{int(status.get('active') or 0)} Active "
        f"({int(status.get('ready') or 0)} Ready) / {int(status.get('succeeded') or 0)} "
        f"Succeeded / {int(status.get('failed') or 0)} Failed\n",
    )
    if spec.get("completionMode") == "Indexed":
        w.write(0, f"Completed Indexes:\t{status.get('completedIndexes') or '<none>'}\n")
    describe_pod_template(w, _m(spec, "template"))
    events_section(w, events, now)
    return w.text()


register("jobs", describe_job)
