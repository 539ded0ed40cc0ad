"""``tkctl describe TYPE [NAME...] | TYPE/NAME``: fetch the objects and their events, then print
them with the per-type describers of ``control.cli.describers``.
"""

from __future__ import annotations

from typing import Any

import click

from common import errors
from common.resources import ResourceType, lookup
from control.cli import describe_config as _config  # noqa: F401  (registers its describers)
from control.cli import describe_cronjob as _describe_cronjob  # noqa: F401  (registers)
from control.cli import describe_daemonset as _daemonset  # noqa: F401  (registers its describer)
from control.cli import describe_endpoints as _describe_endpoints  # noqa: F401  (registers)
from control.cli import describe_job as _describe_job  # noqa: F401  (registers its describer)
from control.cli import describe_pdb as _describe_pdb  # noqa: F401  (registers)
from control.cli import describe_sts as _describe_sts  # noqa: F401  (registers)
from control.cli.describe_apps import BINDERS
from control.cli.describe_svc import bind_service
from control.cli.describers import describer_for
from control.cli.flags import command
from control.cli.output import Failed, api_error_message, echo_error
from control.cli.session import Client, Session, global_options
from control.cli.targets import parse_targets


def events_for(
    client: Client, rt: ResourceType, obj: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """The events about ``obj`` (kubectl's involvedObject field selector), ``None`` if the server
    cannot list them."""
    events_rt = lookup("events")
    meta = obj.get("metadata") or {}
    if events_rt is None or not meta.get("name"):
        return None
    fields = [f"involvedObject.name={meta['name']}"]
    if rt.namespaced:
        fields.append(f"involvedObject.namespace={meta.get('namespace', '')}")
    if not rt.namespaced or rt.group:  # kubectl names the kind for these (describe deploy)
        fields.append(f"involvedObject.kind={rt.kind}")
    if meta.get("uid") and rt.namespaced:
        fields.append(f"involvedObject.uid={meta['uid']}")
    ns = meta.get("namespace") if rt.namespaced else None
    try:
        listing = client.list(events_rt, ns, field_selector=",".join(fields))
    except errors.ApiError:
        return None
    return [e for e in listing.get("items") or [] if isinstance(e, dict)]


def _find(client: Client, rt: ResourceType, name: str, ns: str | None) -> list[dict[str, Any]]:
    """The object ``name``; failing that, like kubectl, those whose name starts with it."""
    try:
        return [client.get(rt, name, ns)]
    except errors.NotFoundError:
        listing = client.list(rt, ns)
        matches = [
            o for o in listing.get("items") or []
            if str((o.get("metadata") or {}).get("name", "")).startswith(name)
        ]  # fmt: skip
        if not matches:
            raise
        return sorted(matches, key=lambda o: str(o["metadata"]["name"]))


@command()
@click.argument("args", nargs=-1)
@click.option("-l", "--selector", metavar="SELECTOR", help="Label selector.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Across all namespaces.")
@click.option("--show-events/--no-show-events", default=True, help="Include the events.")
@global_options
@click.pass_obj
def describe(
    session: Session,
    args: tuple[str, ...],
    selector: str | None,
    all_namespaces: bool,
    show_events: bool,
) -> None:
    """Show details of a resource or group of resources: tkctl describe TYPE [NAME] | TYPE/NAME"""
    targets = parse_targets(args, "describe")
    if not targets:
        raise click.UsageError(
            'You must specify the type of resource to describe. Use "tkctl api-resources" for a '
            "complete list of supported resources.",
            click.get_current_context(),
        )
    client = session.client()
    namespace = None if all_namespaces else session.default_namespace
    outputs: list[str] = []
    failed = False
    for target in targets:
        ns = namespace if target.rt.namespaced else None
        objs: list[dict[str, Any]] = []
        if target.names:
            for name in target.names:
                try:
                    objs.extend(_find(client, target.rt, name, ns))
                except errors.NotFoundError as e:
                    echo_error(api_error_message(e))
                    failed = True
        else:
            listing = client.list(target.rt, ns, label_selector=selector)
            objs = sorted(listing.get("items") or [], key=lambda o: str(o["metadata"]["name"]))
        for obj in objs:
            events = events_for(client, target.rt, obj) if show_events else None
            bind = {**BINDERS, "services": bind_service}.get(target.rt.plural)
            describer = bind(client, obj) if bind else describer_for(target.rt.plural)
            outputs.append(describer(obj, events, session.now()))
    if outputs:
        click.echo("\n\n".join(outputs), nl=False)
    elif not failed:
        ns_text = f" in {namespace} namespace." if namespace and targets[0].rt.namespaced else ""
        echo_error(f"No resources found{ns_text}")
    if failed:
        raise Failed(1)
