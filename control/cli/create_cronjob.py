"""``tkctl create cronjob NAME --image=IMG --schedule=SPEC [--restart=P] [-- CMD ...]`` and the
Job of ``create job NAME --from=cronjob/NAME``, built as kubectl builds them (a container named
after the CronJob, ``restartPolicy: OnFailure``; a manual Job annotated
``cronjob.kubernetes.io/instantiate: manual`` and controlled by its CronJob).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import click

from common.resources import lookup, must
from common.wellknown import CRONJOB_INSTANTIATE
from control.cli.apply import _dry_run
from control.cli.create import send
from control.cli.flags import command
from control.cli.output import CliError
from control.cli.session import Session, global_options

_output = click.option("-o", "--output", type=click.Choice(["yaml", "json", "name"]))


def build_cronjob(
    name: str, image: str, schedule: str, restart: str = "OnFailure", command: Sequence[str] = ()
) -> dict[str, Any]:
    """The CronJob ``kubectl create cronjob`` builds. Pure."""
    container: dict[str, Any] = {"name": name, "image": image}
    if command:
        container["command"] = list(command)
    pod_spec = {"containers": [container], "restartPolicy": restart}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {"metadata": {"name": name}, "spec": {"template": {"spec": pod_spec}}},
        },
    }


def job_from_cronjob(name: str, cronjob: Mapping[str, Any]) -> dict[str, Any]:
    """kubectl's createJobFromCronJob: the template's Job, annotated as made by hand and
    controlled by the CronJob (without blockOwnerDeletion, as kubectl leaves it). Pure."""
    template = cronjob.get("spec", {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = {CRONJOB_INSTANTIATE: "manual", **(tmeta.get("annotations") or {})}
    m = cronjob.get("metadata") or {}
    meta: dict[str, Any] = {"name": name, "annotations": annotations,
                            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
                                                 "name": m.get("name"), "uid": m.get("uid"),
                                                 "controller": True}]}  # fmt: skip
    if tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    spec = copy.deepcopy(template.get("spec") or {})
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec}


def fetch_cronjob(session: Session, source: str) -> dict[str, Any]:
    """The CronJob ``--from=cronjob/NAME`` names (kubectl refuses any other kind)."""
    kind, _, name = source.partition("/")
    rt = lookup(kind)
    if not name or rt is None:
        raise CliError("from must be an existing cronjob")
    if rt.plural != "cronjobs":
        raise CliError(f"unknown object type *{rt.version}.{rt.kind}")
    return session.client().get(rt, name, session.default_namespace)


@command()
@click.argument("name")
@click.argument("args", nargs=-1)
@click.option("--image", help="Image name to run.")
@click.option("--schedule", help="A schedule in the Cron format the job should be run with.")
@click.option(
    "--restart",
    default="OnFailure",
    help="job's restart policy. supported values: OnFailure, Never",
)
@_dry_run
@_output
@global_options
@click.pass_obj
def cronjob(
    session: Session,
    name: str,
    args: tuple[str, ...],
    image: str | None,
    schedule: str | None,
    restart: str,
    dry_run: str,
    output: str | None,
) -> None:
    """Create a cronjob: tkctl create cronjob NAME --image=IMAGE --schedule='0/5 * * * ?'
    [-- COMMAND [ARGS...]]"""
    missing = ", ".join(f'"{flag}"' for flag, value in (("image", image), ("schedule", schedule))
                        if not value)  # fmt: skip
    if missing or image is None or schedule is None:
        raise click.UsageError(f"required flag(s) {missing} not set", click.get_current_context())
    obj = build_cronjob(name, image, schedule, restart, args)
    send(session, must("cronjobs"), obj, dry_run, output)
