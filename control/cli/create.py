"""``tkctl create -f FILE`` and the generators ``create namespace NAME``,
``create deployment NAME --image=IMG [--replicas=N]`` (and ``create configmap|secret`` from
``control.cli.create_config``, ``create job`` from ``control.cli.create_job``), building the
objects kubectl builds (a Deployment labelled ``app=NAME``, its container named after the
image's base name).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import click

from common.resources import ResourceType, must
from control.cli.apply import _dry_run, _filename, _validate, create_one, run_all
from control.cli.flags import command
from control.cli.groups import TkSubGroup, group
from control.cli.output import CliError, object_name, render
from control.cli.session import Client, Session, global_options

_DIGEST_OR_TAG = re.compile(r"[:@].*$")


def container_name(image: str) -> str:
    """kubectl's container name for an image: its last path part without tag or digest, ``_``
    and ``.`` replaced by ``-`` (``registry:5000/team/my_web:2`` → ``my-web``; kubectl also
    appends a random suffix in that case, tinykube keeps names predictable)."""
    return _DIGEST_OR_TAG.sub("", image.rsplit("/", 1)[-1]).replace("_", "-").replace(".", "-")


def build_deployment(
    name: str,
    images: Sequence[str],
    replicas: int = 1,
    port: int | None = None,
    command: Sequence[str] = (),
) -> dict[str, Any]:
    """The Deployment ``kubectl create deployment`` builds. Pure."""
    labels = {"app": name}
    containers: list[dict[str, Any]] = []
    for image in images:
        container: dict[str, Any] = {"name": container_name(image), "image": image}
        if command:
            container["command"] = list(command)
        if port is not None:
            container["ports"] = [{"containerPort": port}]
        containers.append(container)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": containers}},
        },
    }


def build_namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def send(
    session: Session, rt: ResourceType, obj: dict[str, Any], dry_run: str, output: str | None
) -> None:
    """Create ``obj`` (unless ``--dry-run=client``) and print it as kubectl does."""
    ns = session.default_namespace if rt.namespaced else None
    if rt.namespaced:
        obj["metadata"]["namespace"] = ns
    if dry_run != "client":
        obj = session.client().create(rt, obj, ns)
    if output in ("yaml", "json"):
        click.echo(render(obj, output), nl=False)
    elif output == "name":
        click.echo(object_name(obj, rt))
    else:
        click.echo(f"{object_name(obj, rt)} created{' (dry run)' if dry_run == 'client' else ''}")


_output = click.option("-o", "--output", type=click.Choice(["yaml", "json", "name"]))


@group(invoke_without_command=True)
@_filename
@_validate
@_dry_run
@click.option("--save-config", is_flag=True, help="Store the last-applied annotation for apply.")
@global_options
@click.pass_context
def create(
    ctx: click.Context, filenames: tuple[str, ...], validate: str, dry_run: str, save_config: bool
) -> None:
    """Create resources from files or stdin, or a namespace or deployment by name."""
    if ctx.invoked_subcommand is not None:
        if filenames:
            raise CliError("there is no need to specify a resource type when passing -f")
        return
    session: Session = ctx.ensure_object(Session)

    def one(s: Session, c: Client, m: Any) -> str:
        return create_one(s, c, m, save_config, dry_run == "client")

    run_all(session, filenames, validate, "create", one)


@command()
@click.argument("name")
@_dry_run
@_output
@global_options
@click.pass_obj
def namespace(session: Session, name: str, dry_run: str, output: str | None) -> None:
    """Create a namespace: tkctl create namespace NAME"""
    send(session, must("namespaces"), build_namespace(name), dry_run, output)


@command()
@click.argument("name")
@click.argument("args", nargs=-1)
@click.option("--image", "images", multiple=True, metavar="IMAGE", help="Image(s) to run.")
@click.option("-r", "--replicas", type=int, default=1, show_default=True, help="Pod count.")
@click.option("--port", type=int, help="The port the container exposes.")
@_dry_run
@_output
@global_options
@click.pass_obj
def deployment(
    session: Session,
    name: str,
    args: tuple[str, ...],
    images: tuple[str, ...],
    replicas: int,
    port: int | None,
    dry_run: str,
    output: str | None,
) -> None:
    """Create a deployment: tkctl create deployment NAME --image=IMAGE [--replicas=N] [-- CMD]"""
    if not images:
        raise click.UsageError('required flag(s) "image" not set', click.get_current_context())
    if len(images) > 1 and args:
        raise CliError("cannot specify multiple --image options and command")
    obj = build_deployment(name, images, replicas, port, args)
    send(session, must("deployments"), obj, dry_run, output)


assert isinstance(create, TkSubGroup)
create.add_command(namespace)
create.add_command(deployment)
create.alias("ns", "namespace")
create.alias("deploy", "deployment")

# Imported last: their commands send through ``send`` above.
from control.cli.create_config import configmap, secret  # noqa: E402
from control.cli.create_pdb import poddisruptionbudget  # noqa: E402
from control.cli.create_sa import serviceaccount, token  # noqa: E402
from control.cli.services import service  # noqa: E402

create.add_command(service)
create.alias("svc", "service")

from control.cli.create_job import job  # noqa: E402

create.add_command(job)

from control.cli.create_cronjob import cronjob  # noqa: E402

create.add_command(cronjob)
create.alias("cj", "cronjob")
create.add_command(configmap)
create.add_command(secret)
create.alias("cm", "configmap")
create.add_command(serviceaccount)
create.add_command(token)
create.alias("sa", "serviceaccount")
create.add_command(poddisruptionbudget)
create.alias("pdb", "poddisruptionbudget")
