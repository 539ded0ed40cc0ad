"""``tkctl delete``: by ``TYPE NAME...``, ``TYPE/NAME``, ``-f FILE`` or ``TYPE -l SEL|--all``, with
kubectl's grace-period/force rules, cascade policies and waiting until the objects are gone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import click

from common import errors
from common.manifest import read_manifests, resource_type
from common.resources import ResourceType
from control.cli.flags import command
from control.cli.output import CliError, Failed, api_error_message, client_error, echo_error
from control.cli.session import Session, global_options
from control.cli.targets import parse_targets

# Polling while waiting for a deletion: start fast, back off to 1 s (pods take their grace period).
POLL_FIRST = 0.1
POLL_MAX = 1.0
CASCADE = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan",
           "true": "Background", "false": "Orphan"}  # fmt: skip
FORCE_WARNING = (
    "Warning: Immediate deletion does not wait for confirmation that the running resource has "
    "been terminated. The resource may continue to run on the cluster indefinitely."
)


@dataclass(frozen=True)
class Victim:
    rt: ResourceType
    name: str
    namespace: str | None
    source: str = ""
    # The uid the DELETE answered with: a new object of the same name is not this one.
    uid: str = ""


def deleted_message(v: Victim) -> str:
    """kubectl v1.35's line: ``pod "web" deleted from default namespace``."""
    where = f" from {v.namespace} namespace" if v.namespace else ""
    return f'{v.rt.kind_prefix} "{v.name}" deleted{where}'


def grace_period(grace: int, force: bool) -> int | None:
    """kubectl's rules: ``--grace-period=0`` alone means 1; ``--force`` alone means 0."""
    if grace == 0 and not force:
        return 1
    if force and grace < 0:
        return 0
    return grace if grace >= 0 else None


def _victims_from_args(
    session: Session, args: Sequence[str], selector: str | None, all_: bool, all_ns: bool
) -> list[Victim]:
    targets = parse_targets(args, "delete")
    namespace = None if all_ns else session.default_namespace
    victims: list[Victim] = []
    for t in targets:
        ns = namespace if t.rt.namespaced else None
        if t.names:
            if selector or all_:
                raise CliError("name cannot be provided when a selector is specified")
            victims.extend(Victim(t.rt, n, ns) for n in t.names)
            continue
        if not selector and not all_:
            raise CliError("resource(s) were provided, but no name was specified")
        listing = session.client().list(t.rt, ns, label_selector=selector)
        for obj in sorted(listing.get("items") or [], key=lambda o: o["metadata"]["name"]):
            meta = obj.get("metadata") or {}
            victims.append(Victim(t.rt, str(meta["name"]), meta.get("namespace") if ns or (all_ns
                                  and t.rt.namespaced) else None))  # fmt: skip
    return victims


def _victims_from_files(session: Session, filenames: Sequence[str]) -> tuple[list[Victim], bool]:
    manifests, problems = read_manifests(filenames, session.read_stdin, validate=True)
    for p in problems:
        client_error(p.message)
    victims = []
    for m in manifests:
        rt = resource_type(m.obj, m.source)
        ns = (m.namespace or session.default_namespace) if rt.namespaced else None
        victims.append(Victim(rt, m.name, ns, m.source))
    return victims, bool(problems)


def wait_deleted(session: Session, victims: Sequence[Victim], timeout: float | None) -> bool:
    """Poll each object until it is gone (404, or another uid under its name, as kubectl's
    UIDMap); False if ``timeout`` seconds passed first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    client = session.client()
    for v in victims:
        delay = POLL_FIRST
        while True:
            try:
                current = client.get(v.rt, v.name, v.namespace)
            except errors.NotFoundError:
                break
            if v.uid and (current.get("metadata") or {}).get("uid") != v.uid:
                break  # made again under the same name (a StatefulSet's pod): this one is gone
            if deadline is not None and time.monotonic() >= deadline:
                client_error(f"timed out waiting for the condition on {v.rt.plural}/{v.name}")
                return False
            session.sleep(delay)
            delay = min(delay * 2, POLL_MAX)
    return True


@command()
@click.argument("args", nargs=-1)
@click.option("-f", "--filename", "filenames", multiple=True, metavar="FILE|DIR|-")
@click.option("-l", "--selector", metavar="SELECTOR", help="Delete the objects matching it.")
@click.option("--all", "all_", is_flag=True, help="Delete every object of the type(s).")
@click.option("-A", "--all-namespaces", is_flag=True, help="With -l/--all: in every namespace.")
@click.option("--grace-period", type=int, default=-1, help="Seconds to let the object stop.")
@click.option("--force", is_flag=True, help="Delete at once (with --grace-period=0).")
@click.option("--ignore-not-found", is_flag=True, help="Treat a missing object as deleted.")
@click.option("--wait/--no-wait", default=True, help="Wait until the objects are gone.")
@click.option("--timeout", type=float, default=0, help="Give up waiting after N s (0: never).")
@click.option("--cascade", default="background", type=click.Choice(sorted(CASCADE)))
@global_options
@click.pass_obj
def delete(
    session: Session,
    args: tuple[str, ...],
    filenames: tuple[str, ...],
    selector: str | None,
    all_: bool,
    all_namespaces: bool,
    grace_period: int,
    force: bool,
    ignore_not_found: bool,
    wait: bool,
    timeout: float,
    cascade: str,
) -> None:
    """Delete resources by file name, stdin, type and name, or type and label selector."""
    if filenames and args:
        raise CliError("there is no need to specify a resource type as a separate argument "
                       "when passing arguments with -f")  # fmt: skip
    if not filenames and not args:
        raise click.UsageError(
            "You must provide one or more resources by argument or filename.",
            click.get_current_context(),
        )
    failed = False
    if filenames:
        victims, failed = _victims_from_files(session, filenames)
    else:
        victims = _victims_from_args(session, args, selector, all_, all_namespaces)
        if not victims and (selector or all_):
            echo_error("No resources found")
    grace = _grace(grace_period, force)
    policy = CASCADE[cascade]
    gone: list[Victim] = []
    for v in victims:
        try:
            answer = session.client().delete(
                v.rt, v.name, v.namespace, grace_period_seconds=grace, propagation_policy=policy
            )
        except errors.NotFoundError as e:
            if not ignore_not_found:
                action = f'error when deleting "{v.source}"' if v.source else ""
                echo_error(api_error_message(e, action))
                failed = True
            continue
        click.echo(deleted_message(v))
        uid = (answer.get("metadata") or {}).get("uid") or (answer.get("details") or {}).get("uid")
        gone.append(replace(v, uid=str(uid or "")))
    if wait and gone and not wait_deleted(session, gone, timeout or None):
        failed = True
    if failed:
        raise Failed(1)


def _grace(grace_flag: int, force: bool) -> int | None:
    grace = grace_period(grace_flag, force)
    if force and grace == 0:
        echo_error(FORCE_WARNING)
    return grace
