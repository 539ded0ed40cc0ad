"""``tkctl rollout status|history|undo|restart|pause|resume deploy/NAME``: kubectl's rollout
commands over a Deployment and its ReplicaSets (the decisions are in ``control.cli.revisions``),
and ``status|history|undo|restart`` over a StatefulSet or a DaemonSet and its ControllerRevisions
(``control.cli.revisionhistory``). ``status`` watches until the rollout is done, fails or
``--timeout`` passes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import click

from common import errors
from common.printers import format_selector
from common.resources import lookup
from common.tabwriter import tabwrite
from control.cli import revisionhistory
from control.cli.describe_apps import describe_pod_template
from control.cli.describers import Text
from control.cli.flags import command
from control.cli.groups import group
from control.cli.output import CliError, Failed, echo_error
from control.cli.resolve import JSON_PATCH, STRATEGIC_MERGE_PATCH, Ref, find_objects
from control.cli.revisions import (
    Status,
    equal_ignore_hash,
    history,
    history_rows,
    owned,
    restart_patch,
    revision,
    rollback_patch,
    rollback_target,
    rollout_status,
)
from control.cli.session import Session, global_options

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# How long one watch request may stay open before it is renewed (the server's own limit is longer).
WATCH_SECONDS = 300
# Pause before watching again after a stream ended with nothing new (a quiet server).
RETRY_PAUSE = 0.2


def parse_duration(text: str) -> float:
    """Go's ``time.ParseDuration`` (``90s``, ``1m30s``, ``500ms``; a bare ``0``), in seconds."""
    if text in ("0", ""):
        return 0.0
    pos, total = 0, 0.0
    for found in _DURATION.finditer(text):
        if found.start() != pos:
            break
        total += float(found.group(1)) * _UNITS[found.group(2)]
        pos = found.end()
    if pos != len(text) or pos == 0:
        raise CliError(f'invalid argument "{text}" for "--timeout" flag: time: invalid duration '
                       f'"{text}"')  # fmt: skip
    return total


@group()
@global_options
def rollout() -> None:
    """Manage the rollout of a deployment: status, history, undo, restart, pause, resume."""


# The kinds each rollout verb serves; those with ControllerRevisions use revisionhistory.
DEPLOYMENTS = ("deployments",)
WITH_HISTORY = ("deployments", "statefulsets", "daemonsets")
REVISION_KINDS = ("statefulsets", "daemonsets")


def _deployments(
    session: Session, args: tuple[str, ...], verb: str, kinds: tuple[str, ...] = DEPLOYMENTS
) -> tuple[list[Ref], bool]:
    refs, missing = find_objects(session, args, f"rollout {verb}")
    for ref in refs:
        if ref.rt.plural not in kinds:
            raise CliError(_unsupported(verb, ref))
    return refs, missing


def _status_of(ref: Ref, obj: dict[str, Any], revision: int) -> Status:
    if ref.rt.plural == "daemonsets":
        return revisionhistory.daemonset_status(obj)
    if ref.rt.plural in REVISION_KINDS:
        return revisionhistory.statefulset_status(obj)
    return rollout_status(obj, revision)


def _controller_revisions(session: Session, owner: dict[str, Any]) -> list[Any]:
    rt = lookup("controllerrevisions")
    assert rt is not None
    meta = owner.get("metadata") or {}
    listing = session.client().list(rt, meta.get("namespace"))
    return revisionhistory.controlled(owner, listing.get("items") or [])


def _unsupported(verb: str, ref: Ref) -> str:
    kind = f"{ref.rt.kind}.{ref.rt.group}" if ref.rt.group else ref.rt.kind
    what = {"status": "status viewer", "history": "history viewer", "undo": "rollbacker"}
    return f"no {what.get(verb, verb + 'er')} has been implemented for {kind}"


def _replicasets(session: Session, deploy: dict[str, Any]) -> list[Any]:
    rt = lookup("replicasets")
    assert rt is not None
    meta = deploy.get("metadata") or {}
    selector = format_selector((deploy.get("spec") or {}).get("selector"))
    listing = session.client().list(
        rt, meta.get("namespace"), label_selector=None if selector == "<none>" else selector
    )
    return owned(deploy, listing.get("items") or [])


# -- status -------------------------------------------------------------------------------------


def _watch(session: Session, ref: Ref, rv: str, deadline: float | None) -> Iterator[dict[str, Any]]:
    """The Deployment as it changes: watch from ``rv``, list again on 410, until ``deadline``."""
    client = session.client()
    while deadline is None or time.monotonic() < deadline:
        left = WATCH_SECONDS if deadline is None else max(1, int(deadline - time.monotonic()) + 1)
        seen = False
        try:
            for event in client.watch(
                ref.rt,
                ref.namespace,
                resource_version=rv,
                field_selector=f"metadata.name={ref.name}",
                timeout_seconds=min(left, WATCH_SECONDS),
            ):
                obj = event.get("object") or {}
                rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                if event.get("type") == "BOOKMARK":
                    continue
                if event.get("type") == "DELETED":
                    raise CliError("object has been deleted")
                seen = True
                yield obj
                if deadline is not None and time.monotonic() >= deadline:
                    return
        except errors.GoneError:
            fresh = client.get(ref.rt, ref.name, ref.namespace)
            rv = str((fresh.get("metadata") or {}).get("resourceVersion") or "")
            seen = True
            yield fresh
        if not seen:
            session.sleep(RETRY_PAUSE)


@command()
@click.argument("args", nargs=-1)
@click.option("-w", "--watch/--no-watch", default=True, help="Watch until the rollout is done.")
@click.option("--timeout", default="0s", help="Give up after this long (0: never), e.g. 2m.")
@click.option("--revision", type=int, default=0, help="Wait for this revision only.")
@global_options
@click.pass_obj
def status(
    session: Session, args: tuple[str, ...], watch: bool, timeout: str, revision: int
) -> None:
    """Show the status of the rollout: tkctl rollout status deploy/NAME [--timeout=D]"""
    seconds = parse_duration(timeout)
    refs, missing = _deployments(session, args, "status", WITH_HISTORY)
    if missing:
        raise Failed(1)
    deadline = time.monotonic() + seconds if seconds > 0 else None
    for ref in refs:
        current = _status_of(ref, ref.obj, revision)
        click.echo(current.message)
        if current.done or not watch:
            continue
        rv = str((ref.obj.get("metadata") or {}).get("resourceVersion") or "")
        for obj in _watch(session, ref, rv, deadline):
            current = _status_of(ref, obj, revision)
            click.echo(current.message)
            if current.done:
                break
        if not current.done:
            raise CliError("timed out waiting for the condition")


# -- history / undo -------------------------------------------------------------------------------


@command("history")
@click.argument("args", nargs=-1)
@click.option("--revision", type=int, default=0, help="Show the pod template of this revision.")
@global_options
@click.pass_obj
def history_(session: Session, args: tuple[str, ...], revision: int) -> None:
    """View the rollout history: tkctl rollout history deploy/NAME [--revision=N]"""
    refs, missing = _deployments(session, args, "history", WITH_HISTORY)
    for ref in refs:
        if ref.rt.plural in REVISION_KINDS:
            _revision_history(session, ref, revision)
            continue
        rses = _replicasets(session, ref.obj)
        if revision > 0:
            template = history(rses).get(revision)
            if template is None:
                raise CliError("unable to find the specified revision")
            w = Text()
            describe_pod_template(w, template)
            # kubectl prints this template without aligning it (no tabwriter).
            click.echo(f"{ref.label} with revision #{revision}\n{''.join(w.parts)}")
            continue
        rows = history_rows(rses)
        if not rows:
            click.echo(f"{ref.label} \nNo rollout history found.")
            continue
        table = "REVISION\tCHANGE-CAUSE\n" + "".join(f"{r}\t{c}\n" for r, c in rows)
        click.echo(f"{ref.label} \n{tabwrite(table, 0, 2)}")
    if missing:
        raise Failed(1)


def _revision_history(session: Session, ref: Ref, revision: int) -> None:
    revisions = _controller_revisions(session, ref.obj)
    if revision > 0:
        found = [cr for cr in revisions if revisionhistory.revision_number(cr) == revision]
        if not found:
            raise CliError("unable to find the specified revision")
        w = Text()
        describe_pod_template(w, revisionhistory.template_of(found[0]))
        click.echo(f"{ref.label} with revision #{revision}\n{''.join(w.parts)}")
        return
    rows = revisionhistory.rows(revisions)
    if not rows:
        click.echo(f"{ref.label} \nNo rollout history found.")
        return
    table = "REVISION\tCHANGE-CAUSE\n" + "".join(f"{r}\t{c}\n" for r, c in rows)
    click.echo(f"{ref.label} \n{tabwrite(table, 0, 2)}")


def _revision_undo(session: Session, ref: Ref, to_revision: int) -> None:
    """kubectl's StatefulSetRollbacker: the revision's patch, as a strategic merge patch."""
    target = revisionhistory.find(_controller_revisions(session, ref.obj), to_revision)
    if revisionhistory.matches(ref.obj, target):
        number = revisionhistory.revision_number(target)
        click.echo(f"{ref.label} skipped rollback (current template already matches revision "
                   f"{number})")  # fmt: skip
        return
    session.client().patch(
        ref.rt, ref.name, target.get("data"), ref.namespace, patch_type=STRATEGIC_MERGE_PATCH
    )
    click.echo(f"{ref.label} rolled back")


@command()
@click.argument("args", nargs=-1)
@click.option("--to-revision", type=int, default=0, help="The revision to go back to (0: last).")
@global_options
@click.pass_obj
def undo(session: Session, args: tuple[str, ...], to_revision: int) -> None:
    """Roll back to a previous rollout: tkctl rollout undo deploy/NAME [--to-revision=N]"""
    refs, missing = _deployments(session, args, "undo", WITH_HISTORY)
    for ref in refs:
        if ref.rt.plural in REVISION_KINDS:
            _revision_undo(session, ref, to_revision)
            continue
        if (ref.obj.get("spec") or {}).get("paused"):
            raise CliError(
                "you cannot rollback a paused deployment; resume it first with "
                f"'tkctl rollout resume {ref.rt.singular}/{ref.name}' and try again"
            )
        rses = _replicasets(session, ref.obj)
        target = rollback_target(ref.obj, rses, to_revision)
        if equal_ignore_hash(
            (target.get("spec") or {}).get("template"), (ref.obj.get("spec") or {}).get("template")
        ):
            click.echo(
                f"{ref.label} skipped rollback (current template already matches revision "
                f"{revision(target)})"
            )
            continue
        session.client().patch(
            ref.rt, ref.name, rollback_patch(ref.obj, target), ref.namespace, patch_type=JSON_PATCH
        )
        click.echo(f"{ref.label} rolled back")
    if missing:
        raise Failed(1)


# -- restart / pause / resume ---------------------------------------------------------------------


@command()
@click.argument("args", nargs=-1)
@click.option("-l", "--selector", metavar="SELECTOR", help="Restart the deployments matching it.")
@global_options
@click.pass_obj
def restart(session: Session, args: tuple[str, ...], selector: str | None) -> None:
    """Restart the pods of a deployment: tkctl rollout restart deploy/NAME"""
    refs, missing = find_objects(session, args, "rollout restart", selector)
    when = session.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    for ref in refs:
        if ref.rt.plural not in WITH_HISTORY:
            raise CliError(f"restarting is not supported for {ref.rt.kind}")
        if (ref.obj.get("spec") or {}).get("paused"):
            raise CliError("can't restart paused deployment (run rollout resume first)")
        session.client().patch(
            ref.rt, ref.name, restart_patch(when), ref.namespace, patch_type=STRATEGIC_MERGE_PATCH
        )
        click.echo(f"{ref.label} restarted")
    if missing:
        raise Failed(1)


def _set_paused(session: Session, args: tuple[str, ...], paused: bool) -> None:
    verb = "pause" if paused else "resume"
    refs, failed = _deployments(session, args, verb)
    for ref in refs:
        if bool((ref.obj.get("spec") or {}).get("paused")) == paused:
            state = "already paused" if paused else "not paused"
            echo_error(f'error: {ref.rt.qualified} "{ref.name}" is {state}')
            failed = True
            continue
        session.client().patch(
            ref.rt,
            ref.name,
            {"spec": {"paused": paused}},
            ref.namespace,
            patch_type=STRATEGIC_MERGE_PATCH,
        )
        click.echo(f"{ref.label} {'paused' if paused else 'resumed'}")
    if failed:
        raise Failed(1)


@command()
@click.argument("args", nargs=-1)
@global_options
@click.pass_obj
def pause(session: Session, args: tuple[str, ...]) -> None:
    """Mark a deployment as paused: tkctl rollout pause deploy/NAME"""
    _set_paused(session, args, True)


@command()
@click.argument("args", nargs=-1)
@global_options
@click.pass_obj
def resume(session: Session, args: tuple[str, ...]) -> None:
    """Resume a paused deployment: tkctl rollout resume deploy/NAME"""
    _set_paused(session, args, False)


for _cmd in (status, history_, undo, restart, pause, resume):
    rollout.add_command(_cmd)
