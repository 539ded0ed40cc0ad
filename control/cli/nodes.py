"""``tkctl cordon|uncordon|drain NODE...`` with kubectl's flags, messages and exit codes, and the
reads ``describe node`` needs beyond the Node (its Lease and non-terminated pods). Drain evicts
each pod through the Eviction API (or deletes it with ``--disable-eviction``), evicts again every
5 s a pod whose disruption budget refuses (429), and waits until they are gone, printing
kubectl's lines."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import click

from common import errors
from common.client import STRATEGIC_MERGE_PATCH
from common.duration import parse_duration
from common.resources import must
from common.wellknown import NODE_LEASE_NAMESPACE
from control.cli.describers import Describer, describe_node
from control.cli.drainplan import DrainOptions, daemonset_of, plan_drain
from control.cli.flags import command
from control.cli.nodedescribe import non_terminated
from control.cli.output import CliError, Failed, api_error_message, echo_error
from control.cli.session import Client, Session, global_options

NODES, PODS, LEASES = must("nodes"), must("pods"), must("leases")
DAEMONSETS = must("daemonsets")
LEASE_NAMESPACE = NODE_LEASE_NAMESPACE
# kubectl polls a draining pod every second; a little faster here, pods usually go in < 1 s.
POLL = 0.5
# kubectl evicts again after this long a pod whose disruption budget refused it (a 429).
EVICTION_RETRY_SECONDS = 5
Obj = dict[str, Any]


def _dry_run(value: str) -> bool:
    if value in ("none", "false"):
        return False
    if value in ("client", "true", ""):
        return True
    raise CliError(f'Invalid dry-run value ({value}). Must be "none" or "client".')


def _nodes(session: Session, names: Sequence[str], selector: str | None, verb: str) -> list[Obj]:
    if names and selector:
        raise CliError("cannot specify both a node name and a --selector option")
    if not names and not selector:
        raise click.UsageError(f"USAGE: {verb} NODE [flags]", click.get_current_context())
    client = session.client()
    if selector:
        items = client.list(NODES, label_selector=selector).get("items") or []
        return sorted(items, key=lambda n: str(n["metadata"]["name"]))
    return [client.get(NODES, name) for name in names]


def set_unschedulable(session: Session, nodes: Sequence[Obj], desired: bool, dry: bool) -> None:
    """kubectl's ``RunCordonOrUncordon``: patch only the nodes that need it; report each one."""
    done = "cordoned" if desired else "uncordoned"
    already = f"already {done}"
    suffix = " (dry run)" if dry else ""
    for node in nodes:
        name = node["metadata"]["name"]
        if bool((node.get("spec") or {}).get("unschedulable")) == desired:
            click.echo(f"node/{name} {already}{suffix}")
            continue
        if not dry:
            patch = {"spec": {"unschedulable": True if desired else None}}
            try:
                session.client().patch(NODES, name, patch, patch_type=STRATEGIC_MERGE_PATCH)
            except errors.ApiError as e:
                verb = "cordon" if desired else "uncordon"
                echo_error(f'error: unable to {verb} node "{name}": {api_error_message(e)}')
                continue
        click.echo(f"node/{name} {done}{suffix}")


_SELECTOR = click.option("-l", "--selector", metavar="SELECTOR", help="Select nodes by label.")
_DRY_RUN = click.option("--dry-run", default="none", metavar="none|client",
                        help='"client": only print what would be done.')  # fmt: skip


@command()
@click.argument("names", nargs=-1)
@_SELECTOR
@_DRY_RUN
@global_options
@click.pass_obj
def cordon(session: Session, names: tuple[str, ...], selector: str | None, dry_run: str) -> None:
    """Mark node as unschedulable: tkctl cordon NODE"""
    set_unschedulable(session, _nodes(session, names, selector, "cordon"), True, _dry_run(dry_run))


@command()
@click.argument("names", nargs=-1)
@_SELECTOR
@_DRY_RUN
@global_options
@click.pass_obj
def uncordon(session: Session, names: tuple[str, ...], selector: str | None, dry_run: str) -> None:
    """Mark node as schedulable: tkctl uncordon NODE"""
    nodes = _nodes(session, names, selector, "uncordon")
    set_unschedulable(session, nodes, False, _dry_run(dry_run))


# -- drain -------------------------------------------------------------------------------------


class DrainError(Exception):
    """A node could not be drained; ``lines`` are kubectl's final error lines."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines

    @property
    def text(self) -> str:
        return self.lines[0] if len(self.lines) == 1 else f"[{', '.join(self.lines)}]"


def _pods_on(client: Client, node: str, pod_selector: str | None) -> list[Obj]:
    listing = client.list(PODS, None, label_selector=pod_selector or None,
                          field_selector=f"spec.nodeName={node}")  # fmt: skip
    return list(listing.get("items") or [])


def _wait_gone(session: Session, pods: Sequence[Obj], deadline: float | None, timeout: str) -> None:
    """Poll until each pod is gone (or replaced by a namesake); print ``pod/x evicted``."""
    client = session.client()
    pending = list(pods)
    while pending:
        left = []
        for pod in pending:
            m = pod["metadata"]
            try:
                now = client.get(PODS, m["name"], m["namespace"])
            except errors.NotFoundError:
                now = None
            if now is None or now["metadata"].get("uid") != m.get("uid"):
                click.echo(f"pod/{m['name']} evicted")
            else:
                left.append(pod)
        pending = left
        if not pending:
            return
        if deadline is not None and time.monotonic() >= deadline:
            lines = [f'error when waiting for pod "{p["metadata"]["name"]}" terminating: global '
                     f"timeout reached: {timeout}" for p in pending]  # fmt: skip
            raise DrainError(lines)
        session.sleep(POLL)


def _daemonsets(client: Client, pods: list[dict[str, Any]]) -> frozenset[str]:
    """The DaemonSets of the pods that still exist (kubectl reads each one)."""
    found = set()
    for owner in {o for p in pods if (o := daemonset_of(p)) is not None}:
        namespace, name = owner.split("/", 1)
        try:
            client.get(DAEMONSETS, name, namespace)
        except errors.NotFoundError:
            continue
        found.add(owner)
    return frozenset(found)


def drain_node(session: Session, node: str, o: DrainOptions, flags: dict[str, Any]) -> None:
    """Evict (or delete) the node's pods that the options allow and wait for them to be gone."""
    client = session.client()
    pods = _pods_on(client, node, flags["pod_selector"])
    plan = plan_drain(pods, replace(o, daemonsets=_daemonsets(client, pods)), session.now())
    if plan.blocked:
        raise DrainError(plan.errors)
    if plan.warnings:
        echo_error(f"Warning: {plan.warnings}")
    if flags["dry_run"]:
        for pod in plan.pods:
            m = pod["metadata"]
            click.echo(f"evicting pod {m['namespace']}/{m['name']} (dry run)")
        return
    deadline = time.monotonic() + flags["timeout"] if flags["timeout"] > 0 else None
    grace = flags["grace_period"] if flags["grace_period"] >= 0 else None
    try:
        if flags["disable_eviction"]:
            deleting = _delete_all(client, plan.pods, grace)
        else:
            deleting = _evict_all(session, plan.pods, grace, deadline, flags["timeout_text"])
        _wait_gone(session, deleting, deadline, flags["timeout_text"])
    except DrainError as e:
        echo_error(f'There are pending pods in node "{node}" when an error occurred: {e.text}')
        for pod in _pods_on(client, node, flags["pod_selector"]):
            echo_error(f"pod/{pod['metadata']['name']}")
        raise


def _delete_all(client: Client, pods: Sequence[Obj], grace: int | None) -> list[Obj]:
    """``--disable-eviction``: delete each pod, bypassing its disruption budget."""
    deleting = []
    for pod in pods:
        m = pod["metadata"]
        click.echo(f"evicting pod {m['namespace']}/{m['name']}")
        try:
            client.delete(PODS, m["name"], m["namespace"], grace_period_seconds=grace,
                          preconditions={"uid": m["uid"]})  # fmt: skip
        except (errors.NotFoundError, errors.ConflictError):
            pass  # already gone, or a namesake: nothing of ours is left
        except errors.ApiError as e:
            raise DrainError([f'error when evicting pod "{m["name"]}": {e.message}']) from e
        deleting.append(pod)
    return deleting


def eviction(pod: Obj, grace: int | None) -> Obj:
    """The policy/v1 Eviction kubectl sends for a pod."""
    m = pod["metadata"]
    options: Obj = {} if grace is None else {"gracePeriodSeconds": grace}
    return {"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": m["name"], "namespace": m["namespace"]},
            "deleteOptions": options}  # fmt: skip


def _evict_all(
    session: Session, pods: Sequence[Obj], grace: int | None, deadline: float | None, timeout: str
) -> list[Obj]:
    """Evict each pod; one its budget protects (429) is evicted again every 5 s until the
    deadline. The pods evicted (to wait for); one already gone is not waited for."""
    client = session.client()
    evicted: list[Obj] = []
    pending = list(pods)
    while pending:
        refused = []
        for pod in pending:
            m = pod["metadata"]
            where = f'pods/"{m["name"]}" -n "{m["namespace"]}"'
            click.echo(f"evicting pod {m['namespace']}/{m['name']}")
            if deadline is not None and time.monotonic() >= deadline:
                raise DrainError(
                    [f"error when evicting {where}: global timeout reached: {timeout}"]
                )
            try:
                client.request_json("POST", PODS.path(m["namespace"], m["name"], "eviction"),
                                    body=eviction(pod, grace))  # fmt: skip
            except errors.NotFoundError:
                continue
            except errors.TooManyRequestsError as e:
                echo_error(f"error when evicting {where} (will retry after 5s): {e.message}")
                refused.append(pod)
                continue
            except errors.ApiError as e:
                raise DrainError([f"error when evicting {where}: {e.message}"]) from e
            evicted.append(pod)
        pending = refused
        if pending:
            session.sleep(EVICTION_RETRY_SECONDS)
    return evicted


def _timeout(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@command()
@click.argument("names", nargs=-1)
@click.option("--force", is_flag=True, help="Also delete pods that declare no controller.")
@click.option("--ignore-daemonsets", is_flag=True, help="Ignore DaemonSet-managed pods.")
@click.option("--delete-emptydir-data", is_flag=True, help="Delete pods with emptyDir volumes.")
@click.option("--delete-local-data", is_flag=True, hidden=True)
@click.option("--disable-eviction", is_flag=True,
              help="Delete pods instead of evicting them (bypasses budgets).")  # fmt: skip
@click.option("--grace-period", type=int, default=-1, help="Seconds each pod gets (-1: its own).")
@click.option("--timeout", "timeout_text", default="0s", help="Give up after this long (0: never).")
@click.option("--pod-selector", metavar="SELECTOR", help="Only drain pods with these labels.")
@click.option("--skip-wait-for-delete-timeout", type=int, default=0, metavar="SECONDS",
              help="Skip pods deleted more than this long ago.")  # fmt: skip
@_SELECTOR
@_DRY_RUN
@global_options
@click.pass_obj
def drain(
    session: Session,
    /,
    names: tuple[str, ...],
    selector: str | None,
    dry_run: str,
    **flags: Any,
) -> None:
    """Drain node in preparation for maintenance: tkctl drain NODE"""
    if flags.pop("delete_local_data"):
        echo_error("Flag --delete-local-data has been deprecated, This option is deprecated and "
                   "will be deleted. Use --delete-emptydir-data.")  # fmt: skip
        flags["delete_emptydir_data"] = True
    flags["timeout"] = _timeout(flags["timeout_text"])
    flags["dry_run"] = _dry_run(dry_run)
    options = DrainOptions(
        force=flags["force"],
        ignore_daemonsets=flags["ignore_daemonsets"],
        delete_emptydir_data=flags["delete_emptydir_data"],
        skip_wait_for_delete_timeout=flags["skip_wait_for_delete_timeout"],
    )
    nodes = _nodes(session, names, selector, "drain")
    set_unschedulable(session, nodes, True, flags["dry_run"])
    failures: list[DrainError] = []
    remaining: list[str] = []
    suffix = " (dry run)" if flags["dry_run"] else ""
    for node in nodes:
        name = node["metadata"]["name"]
        try:
            drain_node(session, name, options, flags)
        except DrainError as e:
            echo_error(f'error: unable to drain node "{name}" due to error: {e.text}, '
                       "continuing command...")  # fmt: skip
            failures.append(e)
            remaining.append(name)
            continue
        click.echo(f"node/{name} drained{suffix}")
    if remaining:
        echo_error("There are pending nodes to be drained:")
        for name in remaining:
            echo_error(f" {name}")
        for failure in failures:
            for line in failure.lines:
                echo_error(line)
        raise Failed(1)


# -- describe node ------------------------------------------------------------------------------


def bind_node(client: Client, node: Mapping[str, Any]) -> Describer:
    """``describe node`` with the node's Lease and non-terminated pods read from the server."""
    name = str(node["metadata"]["name"])
    try:
        lease: Mapping[str, Any] | None = client.get(LEASES, name, LEASE_NAMESPACE)
    except errors.ApiError:
        lease = None
    try:
        pods = non_terminated(_pods_on(client, name, None))
    except errors.ApiError:
        return lambda obj, events, now: describe_node(obj, events, now)

    def describer(obj: Any, events: Any, now: dt.datetime) -> str:
        return describe_node(obj, events, now, lease=lease, pods=pods)

    return describer
