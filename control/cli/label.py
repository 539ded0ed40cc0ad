"""``tkctl label TYPE NAME... | TYPE/NAME... | TYPE -l SEL  KEY=VAL... KEY-... [--overwrite]``:
kubectl's label command, a JSON merge patch of ``metadata.labels`` per object
(``pod/web labeled``), refusing to change a value without ``--overwrite``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from common.names import is_label_value
from common.patch import merge_patch_diff
from control.cli.flags import command
from control.cli.output import CliError, Failed
from control.cli.resolve import MERGE_PATCH, Ref, find_objects
from control.cli.session import Session, global_options


def split_args(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Resources first, then label changes (``k=v`` or ``k-``), as kubectl splits them."""
    resources: list[str] = []
    changes: list[str] = []
    for arg in args:
        if "=" in arg or arg.endswith("-"):
            changes.append(arg)
        elif changes:
            raise CliError(f"all resources must be specified before label changes: {arg}")
        else:
            resources.append(arg)
    return resources, changes


def parse_changes(specs: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """``k=v`` → set, ``k-`` → remove; kubectl's errors for anything else."""
    add: dict[str, str] = {}
    remove: list[str] = []
    for spec in specs:
        if "=" in spec:
            parts = spec.split("=")
            if len(parts) != 2:
                raise CliError(f"invalid label spec: {spec}")
            problems = is_label_value(parts[1])
            if problems:
                raise CliError(f'invalid label value: "{spec}": {";".join(problems)}')
            add[parts[0]] = parts[1]
        elif spec.endswith("-"):
            remove.append(spec[:-1])
        else:
            raise CliError(f"unknown label spec: {spec}")
    if any(key in add for key in remove):
        raise CliError("can not both modify and remove a label in the same command")
    return add, remove


def conflicts(labels: Mapping[str, str], add: Mapping[str, str]) -> list[str]:
    """kubectl's refusals without ``--overwrite``: one per key that would change value."""
    return [
        f"'{key}' already has a value ({labels[key]}), and --overwrite is false"
        for key, value in add.items()
        if key in labels and labels[key] != value
    ]


def label_patch(
    labels: Mapping[str, str], add: Mapping[str, str], remove: Sequence[str]
) -> dict[str, Any]:
    """The merge patch turning ``labels`` into ``labels + add - remove`` (``{}``: no change)."""
    new = {k: v for k, v in {**labels, **add}.items() if k not in remove}
    diff = merge_patch_diff(dict(labels), new)
    return {"metadata": {"labels": diff}} if diff else {}


def _list_labels(ref: Ref, several: bool) -> None:
    """``--list``: ``k=v`` lines, under a ``Listing labels for Kind.version/name:`` header when
    there are several objects."""
    labels = (ref.obj.get("metadata") or {}).get("labels") or {}
    if several:
        click.echo(f"Listing labels for {ref.rt.kind}.{ref.rt.version}/{ref.name}:")
    for key in sorted(labels):
        click.echo(f"{' ' if several else ''}{key}={labels[key]}")


def _relabel(
    session: Session,
    ref: Ref,
    add: Mapping[str, str],
    remove: Sequence[str],
    overwrite: bool,
    resource_version: str | None,
) -> None:
    labels = dict((ref.obj.get("metadata") or {}).get("labels") or {})
    refused = [] if overwrite else conflicts(labels, add)
    if refused:
        raise CliError("\n".join(refused))
    for key in remove:
        if key not in labels:
            click.echo(f'label "{key}" not found.')
    patch = label_patch(labels, add, remove)
    if not patch:
        click.echo(f"{ref.label} not labeled")
        return
    if resource_version:
        patch["metadata"]["resourceVersion"] = resource_version
    session.client().patch(ref.rt, ref.name, patch, ref.namespace, patch_type=MERGE_PATCH)
    click.echo(f"{ref.label} labeled")


@command()
@click.argument("args", nargs=-1)
@click.option("--overwrite", is_flag=True, help="Allow changing the value of an existing label.")
@click.option("-l", "--selector", metavar="SELECTOR", help="Label the objects matching it.")
@click.option("--all", "all_", is_flag=True, help="Label every object of the type.")
@click.option("--list", "list_", is_flag=True, help="Print the labels of the objects.")
@click.option("--resource-version", metavar="RV", help="Only if the object is still at this RV.")
@global_options
@click.pass_obj
def label(
    session: Session,
    args: tuple[str, ...],
    overwrite: bool,
    selector: str | None,
    all_: bool,
    list_: bool,
    resource_version: str | None,
) -> None:
    """Update the labels on resources: tkctl label TYPE NAME KEY=VAL ... KEY- [--overwrite]"""
    resources, specs = split_args(args)
    add, remove = parse_changes(specs)
    if not add and not remove and not list_:
        raise CliError("at least one label update is required")
    refs, failed = find_objects(session, resources, "label", selector, all_)
    if not refs and not failed:
        raise CliError("no objects passed to label")
    for ref in refs:
        if list_:
            _list_labels(ref, several=len(refs) > 1)
        else:
            _relabel(session, ref, add, remove, overwrite, resource_version)
    if failed:
        raise Failed(1)
