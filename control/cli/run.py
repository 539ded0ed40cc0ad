"""``tkctl run NAME --image=IMG [-- ARGS...]``: create a one-container Pod labelled ``run=NAME``
(kubectl's default), or print it with ``--dry-run=client -o yaml``.
"""

from __future__ import annotations

from typing import Any

import click

from common.resources import lookup
from control.cli.flags import command
from control.cli.output import CliError, object_name, render
from control.cli.session import Session, global_options

RESTART_POLICIES = ("Always", "OnFailure", "Never")


def _pairs(text: str, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (p for p in text.split(",") if p):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f'invalid {flag} "{item}": expected key=value')
        out[key] = value
    return out


def build_pod(
    name: str,
    image: str,
    *,
    port: int | None = None,
    labels: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    restart: str = "Always",
    command: bool = False,
    args: list[str] | None = None,
    image_pull_policy: str | None = None,
) -> dict[str, Any]:
    """The Pod ``kubectl run`` would create. Pure."""
    container: dict[str, Any] = {"name": name, "image": image}
    if args:
        container["command" if command else "args"] = list(args)
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if port is not None:
        container["ports"] = [{"containerPort": port}]
    if image_pull_policy:
        container["imagePullPolicy"] = image_pull_policy
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels if labels else {"run": name}},
        "spec": {"containers": [container], "restartPolicy": restart},
    }


@command()
@click.argument("name")
@click.argument("args", nargs=-1)
@click.option("--image", metavar="IMAGE", help="The container image to run (required).")
@click.option("--port", type=int, help="The port the container exposes.")
@click.option("-l", "--labels", default="", metavar="K=V,...", help="Labels (default run=NAME).")
@click.option("--env", multiple=True, metavar="K=V", help="Environment variables; repeatable.")
@click.option("--restart", type=click.Choice(RESTART_POLICIES), default="Always")
@click.option("--command", is_flag=True, help="The arguments are the command, not its args.")
@click.option("--image-pull-policy", type=click.Choice(["Always", "IfNotPresent", "Never"]))
@click.option("--dry-run", type=click.Choice(["none", "client"]), default="none")
@click.option("-o", "--output", type=click.Choice(["yaml", "json", "name"]), help="Print the pod.")
@global_options
@click.pass_obj
def run(
    session: Session,
    name: str,
    args: tuple[str, ...],
    image: str | None,
    port: int | None,
    labels: str,
    env: tuple[str, ...],
    restart: str,
    command: bool,
    image_pull_policy: str | None,
    dry_run: str,
    output: str | None,
) -> None:
    """Create and run a particular image in a pod: tkctl run NAME --image=IMAGE [-- ARGS...]"""
    if not image:
        raise click.UsageError('required flag(s) "image" not set', click.get_current_context())
    env_vars: dict[str, str] = {}
    for item in env:
        env_vars.update(_pairs(item, "env"))
    pod = build_pod(
        name,
        image,
        port=port,
        labels=_pairs(labels, "label"),
        env=env_vars,
        restart=restart,
        command=command,
        args=list(args),
        image_pull_policy=image_pull_policy,
    )
    pods = lookup("pods")
    assert pods is not None
    ns = session.default_namespace
    if dry_run != "client":
        pod = session.client().create(
            pods, {**pod, "metadata": {**pod["metadata"], "namespace": ns}}, ns
        )
    if output in ("yaml", "json"):
        click.echo(render(pod, output), nl=False)
    elif output == "name":
        click.echo(object_name(pod, pods))
    else:
        suffix = " (dry run)" if dry_run == "client" else ""
        click.echo(f"{object_name(pod, pods)} created{suffix}")
