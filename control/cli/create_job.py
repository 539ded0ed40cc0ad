"""``tkctl create job NAME --image=IMG [-- CMD ...]``: the Job kubectl builds (one container
named after the Job, ``restartPolicy: Never``); the API server generates its selector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from common.resources import must
from control.cli.apply import _dry_run
from control.cli.create import send
from control.cli.create_cronjob import fetch_cronjob, job_from_cronjob
from control.cli.flags import command
from control.cli.output import CliError
from control.cli.session import Session, global_options

_output = click.option("-o", "--output", type=click.Choice(["yaml", "json", "name"]))


def build_job(name: str, image: str, command: Sequence[str] = ()) -> dict[str, Any]:
    """The Job ``kubectl create job`` builds. Pure."""
    container: dict[str, Any] = {"name": name, "image": image}
    if command:
        container["command"] = list(command)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"containers": [container], "restartPolicy": "Never"}}},
    }


@command()
@click.argument("name")
@click.argument("args", nargs=-1)
@click.option("--image", help="Image name to run.")
@click.option("--from", "source", help="The name of the resource to create a Job from.")
@_dry_run
@_output
@global_options
@click.pass_obj
def job(
    session: Session,
    name: str,
    args: tuple[str, ...],
    image: str | None,
    source: str | None,
    dry_run: str,
    output: str | None,
) -> None:
    """Create a job: tkctl create job NAME --image=IMAGE [-- COMMAND [ARGS...]], or
    tkctl create job NAME --from=cronjob/NAME"""
    if bool(image) == bool(source):
        raise CliError("either --image or --from must be specified")
    if source:
        if args:
            raise CliError("cannot specify --from and command")
        obj = job_from_cronjob(name, fetch_cronjob(session, source))
        send(session, must("jobs"), obj, dry_run, output)
        return
    assert image is not None
    send(session, must("jobs"), build_job(name, image, args), dry_run, output)
