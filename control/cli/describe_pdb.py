"""``describe`` of PodDisruptionBudgets in kubectl's layout (describePodDisruptionBudgetV1): the
budget, its selector and its status counts, then its events. Pure; registered with
``control.cli.describers``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from common import errors
from common.labels import selector_from_object
from control.cli.describers import Text, _m, events_section, register

Obj = Mapping[str, Any]


def _selector(spec: Obj) -> str:
    try:
        return str(selector_from_object(spec.get("selector")))
    except errors.BadRequestError:
        return "<unset>"


def describe_pdb(pdb: Obj, events: Sequence[Obj] | None, now: dt.datetime) -> str:
    meta, spec, status = _m(pdb, "metadata"), _m(pdb, "spec"), _m(pdb, "status")
    w = Text()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    if spec.get("minAvailable") is not None:
        w.write(0, f"Min available:\t{spec['minAvailable']}\n")
    elif spec.get("maxUnavailable") is not None:
        w.write(0, f"Max unavailable:\t{spec['maxUnavailable']}\n")
    w.write(0, f"Selector:\t{_selector(spec)}\n")
    w.write(0, "Status:\n")
    w.write(2, f"Allowed disruptions:\t{int(status.get('disruptionsAllowed') or 0)}\n")
    w.write(2, f"Current:\t{int(status.get('currentHealthy') or 0)}\n")
    w.write(2, f"Desired:\t{int(status.get('desiredHealthy') or 0)}\n")
    w.write(2, f"Total:\t{int(status.get('expectedPods') or 0)}\n")
    events_section(w, events, now)
    return w.text()


register("poddisruptionbudgets", describe_pdb)
