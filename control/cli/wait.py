"""``tkctl wait --for=condition=TYPE[=VALUE] | --for=delete TYPE/NAME... [--timeout=30s]``:
kubectl's wait: each object is watched until it has the condition (type and value compared
case-insensitively, the value ``true`` unless given) or is gone; ``<kind>/<name> condition met``
for each, or ``timed out waiting for the condition on <plural>/<name>`` and exit 1.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import click

from common import errors
from control.cli.flags import command
from control.cli.output import CliError, Failed, client_error
from control.cli.resolve import Ref, find_objects
from control.cli.rollout import RETRY_PAUSE, parse_duration
from control.cli.session import Session, global_options


def parse_for(text: str) -> tuple[str, str] | None:
    """``condition=Complete`` → ("Complete", "true"); ``delete`` → None."""
    if text.lower() == "delete":
        return None
    kind, _, rest = text.partition("=")
    if kind.lower() != "condition" or not rest:
        raise CliError("unrecognized condition: " + repr(text))
    ctype, _, value = rest.partition("=")
    return ctype, value or "true"


def condition_met(obj: Mapping[str, Any], ctype: str, value: str) -> bool:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if str(c.get("type", "")).lower() == ctype.lower():
            return str(c.get("status", "")).lower() == value.lower()
    return False


def _wait_one(session: Session, ref: Ref, want: tuple[str, str] | None, deadline: float) -> bool:
    client = session.client()
    while True:
        try:
            obj = client.get(ref.rt, ref.name, ref.namespace)
        except errors.NotFoundError:
            if want is None:
                return True
            raise
        if want is not None and condition_met(obj, *want):
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        try:
            for _ in client.watch(ref.rt, ref.namespace, resource_version=rv,
                                  field_selector=f"metadata.name={ref.name}",
                                  timeout_seconds=max(1, int(left) + 1)):  # fmt: skip
                break  # something changed: look again
            else:
                session.sleep(RETRY_PAUSE)
        except errors.GoneError:
            continue


@command()
@click.argument("args", nargs=-1)
@click.option("--for", "for_", required=True, help="condition=TYPE[=VALUE] or delete.")
@click.option("--timeout", default="30s", help="How long to wait, e.g. 60s (0: look once).")
@global_options
@click.pass_obj
def wait(session: Session, args: tuple[str, ...], for_: str, timeout: str) -> None:
    """Wait for a condition on resources: tkctl wait --for=condition=complete job/NAME"""
    want = parse_for(for_)
    seconds = parse_duration(timeout)
    refs, missing = find_objects(session, args, "wait")
    deadline = time.monotonic() + seconds
    failed = missing
    for ref in refs:
        if _wait_one(session, ref, want, deadline):
            click.echo(f"{ref.rt.kind_prefix}/{ref.name} condition met")
        else:
            client_error(f"timed out waiting for the condition on {ref.rt.plural}/{ref.name}")
            failed = True
    if failed:
        raise Failed()
