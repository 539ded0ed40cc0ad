"""``tkctl get``: tables (``-o wide``, ``-A``, ``--show-labels``), ``-o yaml|json|name`` and
``-w`` (the table, then one row per change), with kubectl's messages for empty and missing results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from common import errors
from common.printers import format_labels, headers, printer_for, row
from common.resources import ResourceType
from common.tabwriter import TABLE_MIN_WIDTH, TABLE_PADDING, format_table
from control.cli.flags import command
from control.cli.output import (
    OUTPUT_FORMATS,
    CliError,
    Failed,
    api_error_message,
    as_list,
    echo_error,
    object_name,
    render,
    with_type,
)
from control.cli.session import Session, global_options
from control.cli.targets import Target, multiple_types, parse_targets


@dataclass
class Found:
    """The objects of one resource type that ``get`` will print."""

    rt: ResourceType
    items: list[dict[str, Any]] = field(default_factory=list)
    resource_version: str = ""


@dataclass(frozen=True)
class TableOptions:
    wide: bool = False
    all_namespaces: bool = False
    show_labels: bool = False
    with_kind: bool = False
    no_headers: bool = False
    watch_events: bool = False  # --output-watch-events: an EVENT column, or {type, object}
    managed_fields: bool = False  # --show-managed-fields: keep metadata.managedFields in -o


def _sort_key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def table_headers(rt: ResourceType, opts: TableOptions) -> list[str]:
    cols = headers(printer_for(rt.plural), opts.wide)
    if opts.all_namespaces and rt.namespaced:
        cols.insert(0, "NAMESPACE")
    if opts.show_labels:
        cols.append("LABELS")
    return cols


def table_row(
    rt: ResourceType, obj: dict[str, Any], now: dt.datetime, opts: TableOptions
) -> list[str]:
    printer = printer_for(rt.plural)
    cells = row(printer, obj, now, opts.wide)
    meta = obj.get("metadata") or {}
    if opts.with_kind:
        cols = [c for c in printer.columns if opts.wide or c.priority == 0]
        for i, col in enumerate(cols):
            if col.format == "name":
                cells[i] = f"{rt.kind_prefix}/{cells[i]}"
                break
    if opts.all_namespaces and rt.namespaced:
        cells.insert(0, str(meta.get("namespace") or ""))
    if opts.show_labels:
        cells.append(format_labels(meta.get("labels")))
    return cells


def format_tables(found: Sequence[Found], now: dt.datetime, opts: TableOptions) -> str:
    """One table per resource type, separated by blank lines, as kubectl prints them."""
    tables = []
    for group in found:
        if not group.items:
            continue
        rows = [table_row(group.rt, obj, now, opts) for obj in group.items]
        tables.append(format_table(table_headers(group.rt, opts), rows, no_headers=opts.no_headers))
    return "\n".join(tables)


def no_resources_message(targets: Sequence[Target], namespace: str, all_namespaces: bool) -> str:
    if all_namespaces or not any(t.rt.namespaced for t in targets):
        return "No resources found"
    return f"No resources found in {namespace} namespace."


def fetch(
    session: Session,
    targets: Sequence[Target],
    namespace: str | None,
    selector: str | None,
    field_selector: str | None,
    ignore_not_found: bool,
) -> tuple[list[Found], bool]:
    """The objects asked for, and whether some were missing (already reported on stderr)."""
    client = session.client()
    found: list[Found] = []
    missing = False
    for target in targets:
        ns = namespace if target.rt.namespaced else None
        group = Found(target.rt)
        if target.names:
            for name in target.names:
                try:
                    group.items.append(with_type(client.get(target.rt, name, ns), target.rt))
                except errors.NotFoundError as e:
                    if not ignore_not_found:
                        echo_error(api_error_message(e))
                        missing = True
        else:
            listing = client.list(
                target.rt, ns, label_selector=selector, field_selector=field_selector
            )
            items = [with_type(i, target.rt) for i in listing.get("items") or []]
            group.items = sorted(items, key=_sort_key)
            group.resource_version = str(
                (listing.get("metadata") or {}).get("resourceVersion") or ""
            )
        found.append(group)
    return found, missing


class RowPrinter:
    """Rows printed one at a time (``-w``) in columns that only grow, like kubectl's tabwriter
    with ``RememberWidths``."""

    def __init__(self, first: Sequence[Sequence[str]]) -> None:
        self.widths: list[int] = []
        for cells in first:
            self._grow(cells)

    def _grow(self, cells: Sequence[str]) -> None:
        for i, cell in enumerate(cells[:-1]):
            width = max(TABLE_MIN_WIDTH, len(cell) + TABLE_PADDING)
            if i >= len(self.widths):
                self.widths.append(width)
            elif width > self.widths[i]:
                self.widths[i] = width

    def format(self, cells: Sequence[str]) -> str:
        self._grow(cells)
        last = len(cells) - 1
        return "".join(c.ljust(self.widths[i]) if i < last else c for i, c in enumerate(cells))


def _uid(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return str(meta.get("uid") or f"{meta.get('namespace', '')}/{meta.get('name', '')}")


def _rv(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _printer(
    session: Session, group: Found, output: str, opts: TableOptions, printed: bool
) -> Callable[[dict[str, Any], str], None]:
    """The function printing one changed object and its event type, after the header if the
    list printed none."""
    table = output in ("", "wide")

    def cells(obj: dict[str, Any], event: str) -> list[str]:
        row = table_row(group.rt, obj, session.now(), opts)
        return [event, *row] if opts.watch_events else row

    header = (["EVENT"] if opts.watch_events else []) + table_headers(group.rt, opts)
    first: list[list[str]] = []
    if table:
        first += [] if opts.no_headers else [header]
        first += [cells(o, "ADDED") for o in group.items]
    rows = RowPrinter(first)
    if table and not printed and not opts.no_headers:
        click.echo(rows.format(header))

    def emit(obj: dict[str, Any], event: str) -> None:
        obj = with_type(obj, group.rt)
        if output == "name":
            click.echo(object_name(obj, group.rt))
        elif output in ("json", "yaml"):
            shown = {"type": event, "object": obj} if opts.watch_events else obj
            click.echo(render(shown, output, opts.managed_fields), nl=False)
            if output == "yaml":
                click.echo("---")
        else:
            click.echo(rows.format(cells(obj, event)))

    return emit


def _changed_since(
    known: dict[str, dict[str, Any]], fresh: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """What a new list shows that the user has not seen: objects gone (their last state), then
    new or changed ones."""
    gone = [known[uid] for uid in sorted(known.keys() - fresh.keys())]
    changed = [o for uid, o in fresh.items() if uid not in known or _rv(known[uid]) != _rv(o)]
    return gone + sorted(changed, key=_sort_key)


def watch(
    session: Session,
    group: Found,
    namespace: str | None,
    selector: str | None,
    field_selector: str | None,
    output: str,
    opts: TableOptions,
    printed: bool,
    initial: bool = False,
) -> None:
    """Print a line (or object) per change until the server ends the stream; with ``initial``,
    the listed objects first, as ADDED. A 410 (the resourceVersion is too old) lists again,
    prints what changed meanwhile and watches on."""
    emit = _printer(session, group, output, opts, printed)
    for obj in group.items if initial else []:
        emit(obj, "ADDED")
    ns = namespace if group.rt.namespaced else None
    client = session.client()
    known = {_uid(o): o for o in group.items}  # what the user has seen, to re-list without noise
    rv = group.resource_version or None
    while True:
        try:
            for event in client.watch(
                group.rt, ns, resource_version=rv, label_selector=selector,
                field_selector=field_selector,
            ):  # fmt: skip
                obj = dict(event.get("object") or {})
                rv = _rv(obj) or rv
                kind = str(event.get("type"))
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    known.pop(_uid(obj), None)
                    if kind != "DELETED":
                        known[_uid(obj)] = obj
                    emit(obj, kind)
            return
        except errors.GoneError:
            listing = client.list(group.rt, ns, label_selector=selector,
                                  field_selector=field_selector)  # fmt: skip
            rv = str((listing.get("metadata") or {}).get("resourceVersion") or "") or None
            fresh = {_uid(o): dict(o) for o in listing.get("items") or []}
            for obj in _changed_since(known, fresh):
                emit(obj, "DELETED" if _uid(obj) not in fresh else "MODIFIED")
            known = fresh


@command()
@click.argument("args", nargs=-1)
@click.option("-o", "--output", default="", metavar="FORMAT", help="wide, yaml, json or name.")
@click.option("-l", "--selector", metavar="SELECTOR", help="Label selector (k=v,k!=v,k in (a,b)).")
@click.option("--field-selector", metavar="SELECTOR", help="Field selector (spec.nodeName=n1).")
@click.option("-A", "--all-namespaces", is_flag=True, help="List across all namespaces.")
@click.option("--show-labels", is_flag=True, help="Add a LABELS column.")
@click.option("--no-headers", is_flag=True, help="Omit the header line.")
@click.option("-w", "--watch", "watch_", is_flag=True, help="After listing, watch for changes.")
@click.option("--watch-only", is_flag=True, help="Watch for changes without listing first.")
@click.option("--output-watch-events", is_flag=True, help="With -w: show the event types.")
@click.option("--ignore-not-found", is_flag=True, help="Treat a missing object as no error.")
@click.option("--show-managed-fields", is_flag=True, help="Keep managedFields in -o json|yaml.")
@global_options
@click.pass_obj
def get(
    session: Session,
    args: tuple[str, ...],
    output: str,
    selector: str | None,
    field_selector: str | None,
    all_namespaces: bool,
    show_labels: bool,
    no_headers: bool,
    watch_: bool,
    watch_only: bool,
    output_watch_events: bool,
    ignore_not_found: bool,
    show_managed_fields: bool,
) -> None:
    """Display one or many resources: tkctl get TYPE[,TYPE] [NAME...] | TYPE/NAME..."""
    if output not in ("", *OUTPUT_FORMATS):
        raise CliError(
            f'unable to match a printer suitable for the output format "{output}", allowed '
            f"formats are: {','.join(OUTPUT_FORMATS)}"
        )
    targets = parse_targets(args, "get")
    if not targets:
        raise click.UsageError(
            'You must specify the type of resource to get. Use "tkctl api-resources" for a '
            "complete list of supported resources.",
            click.get_current_context(),
        )
    named = any(t.names for t in targets)
    if named and selector:
        raise CliError("name cannot be provided when a selector is specified")
    if named and all_namespaces:
        raise CliError("a resource cannot be retrieved by name across all namespaces")
    watching = watch_ or watch_only
    if watching and len(targets) > 1:
        raise CliError("you may only specify a single resource type")
    namespace = None if all_namespaces else session.default_namespace
    if watching and named:
        field_selector = f"metadata.name={targets[0].names[0]}"
        targets = [Target(targets[0].rt)]
    found, missing = fetch(session, targets, namespace, selector, field_selector, ignore_not_found)
    opts = TableOptions(
        wide=output == "wide",
        all_namespaces=all_namespaces,
        show_labels=show_labels,
        with_kind=multiple_types(targets, args),
        no_headers=no_headers,
        watch_events=output_watch_events and watching,
        managed_fields=show_managed_fields,
    )
    # When watching, kubectl prints listed objects one by one (as ADDED events) unless a table
    # without event types is asked for.
    one_by_one = watching and (output in ("json", "yaml", "name") or opts.watch_events)
    printed = False
    if not watch_only and not one_by_one:
        printed = _print(found, output, opts, session.now(), single=_single(targets, args))
        if not printed and not named and output in ("", "wide") and not watching:
            echo_error(no_resources_message(targets, session.default_namespace, all_namespaces))
    if watching:
        initial = one_by_one and not watch_only
        group = found[0]
        watch(session, group, namespace, selector, field_selector, output, opts, printed, initial)
    if missing:
        raise Failed(1)


def _single(targets: Sequence[Target], args: Sequence[str]) -> bool:
    """kubectl prints a bare object (not a List) for exactly one named object."""
    return len(targets) == 1 and len(targets[0].names) == 1 and len(args) <= 2


def _print(
    found: Sequence[Found], output: str, opts: TableOptions, now: dt.datetime, single: bool
) -> bool:
    """Print the objects; whether anything was printed."""
    items = [(g.rt, o) for g in found for o in g.items]
    if output == "name":
        for rt, obj in items:
            click.echo(object_name(obj, rt))
        return bool(items)
    if output in ("json", "yaml"):
        if single and len(items) == 1:
            click.echo(render(items[0][1], output, opts.managed_fields), nl=False)
        elif items or not single:
            listed = as_list([o for _, o in items])
            click.echo(render(listed, output, opts.managed_fields), nl=False)
        return bool(items) or not single
    text = format_tables(found, now, opts)
    click.echo(text, nl=False)
    return bool(text)
