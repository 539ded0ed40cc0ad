"""``tkctl scale (TYPE NAME | TYPE/NAME | TYPE -l SEL) --replicas=N``: a JSON merge patch of the
``scale`` subresource, as kubectl sends it (``deployment.apps/web scaled``).
"""

from __future__ import annotations

from typing import Any

import click

from common import errors
from control.cli.flags import command
from control.cli.output import CliError, Failed, api_error_message, echo_error
from control.cli.resolve import MERGE_PATCH, find_objects
from control.cli.session import Session, global_options


def scale_patch(replicas: int, resource_version: str | None = None) -> dict[str, Any]:
    patch: dict[str, Any] = {"spec": {"replicas": replicas}}
    if resource_version:
        patch["metadata"] = {"resourceVersion": resource_version}
    return patch


@command()
@click.argument("args", nargs=-1)
@click.option("--replicas", type=int, help="The new number of replicas (required).")
@click.option("--current-replicas", type=int, default=-1, help="Only if it has this many now.")
@click.option("--resource-version", metavar="RV", help="Only if the object is still at this RV.")
@click.option("-l", "--selector", metavar="SELECTOR", help="Scale the objects matching it.")
@click.option("--all", "all_", is_flag=True, help="Scale every object of the type.")
@global_options
@click.pass_obj
def scale(
    session: Session,
    args: tuple[str, ...],
    replicas: int | None,
    current_replicas: int,
    resource_version: str | None,
    selector: str | None,
    all_: bool,
) -> None:
    """Set a new size for a deployment or replica set: tkctl scale deploy/NAME --replicas=N"""
    if replicas is None:
        raise click.UsageError('required flag(s) "replicas" not set', click.get_current_context())
    if replicas < 0:
        raise CliError(
            "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0"
        )
    refs, failed = find_objects(session, args, "scale", selector, all_)
    if not refs and not failed:
        raise CliError("no objects passed to scale")
    client = session.client()
    for ref in refs:
        have = int((ref.obj.get("spec") or {}).get("replicas", 1) or 0)
        if current_replicas >= 0 and have != current_replicas:
            echo_error(f"error: Expected replicas to be {current_replicas}, was {have}")
            failed = True
            continue
        try:
            client.patch(
                ref.rt,
                ref.name,
                scale_patch(replicas, resource_version),
                ref.namespace,
                patch_type=MERGE_PATCH,
                sub="scale",
            )
        except errors.ApiError as e:
            echo_error(api_error_message(e))
            failed = True
            continue
        click.echo(f"{ref.label} scaled")
    if failed:
        raise Failed(1)
