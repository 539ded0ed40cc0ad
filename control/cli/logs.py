"""``tkctl logs POD [-c C] [--tail N] [-f] [--previous] [--timestamps]``: choose the container as
kubectl does, then stream ``/pods/NAME/log`` to stdout as it arrives.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from common.resources import lookup
from control.cli.flags import command
from control.cli.output import CliError
from control.cli.podpick import resolve_pod
from control.cli.session import Session, global_options

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
_DURATION = re.compile(r"(\d+)(h|m|s)")


def since_seconds(text: str) -> int:
    """``--since=1h30m`` in seconds."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise CliError(f'invalid argument "{text}" for "--since" flag: time: invalid duration')
    return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def choose_container(pod: dict[str, Any], container: str | None) -> str:
    """``-c``, else the only container, else the default-container annotation; else kubectl's
    error naming the choices."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    names = [str(c.get("name")) for c in spec.get("containers") or []]
    inits = [str(c.get("name")) for c in spec.get("initContainers") or []]
    pod_name = meta.get("name", "")
    if container:
        if container not in names + inits:
            raise CliError(f"container {container} is not valid for pod {pod_name}")
        return container
    if len(names) == 1:
        return names[0]
    default = (meta.get("annotations") or {}).get(DEFAULT_CONTAINER)
    if default in names:
        return str(default)
    raise CliError(
        f"a container name must be specified for pod {pod_name}, choose one of: "
        f"[{' '.join(names)}]"
        + (f" or one of the init containers: [{' '.join(inits)}]" if inits else "")
    )


@command()
@click.argument("target")
@click.argument("container_arg", required=False)
@click.option("-c", "--container", metavar="NAME", help="The container to read.")
@click.option("-f", "--follow", is_flag=True, help="Keep streaming new lines.")
@click.option("--tail", type=int, default=-1, help="Only the last N lines (-1: all).")
@click.option("-p", "--previous", is_flag=True, help="The previous (terminated) instance.")
@click.option("--timestamps", is_flag=True, help="Prefix each line with its RFC 3339 time.")
@click.option("--since", metavar="DURATION", help="Only lines newer than this (5s, 2m, 3h).")
@click.option("--limit-bytes", type=int, help="Stop after this many bytes.")
@global_options
@click.pass_obj
def logs(
    session: Session,
    target: str,
    container_arg: str | None,
    container: str | None,
    follow: bool,
    tail: int,
    previous: bool,
    timestamps: bool,
    since: str | None,
    limit_bytes: int | None,
) -> None:
    """Print the logs of a container in a pod: tkctl logs [-f] POD [-c CONTAINER]"""
    ns = session.default_namespace
    client = session.client()
    pod = resolve_pod(client, target, ns)
    chosen = choose_container(pod, container or container_arg)
    pod_name = str((pod.get("metadata") or {}).get("name", ""))
    params: dict[str, Any] = {
        "container": chosen,
        "tailLines": tail if tail >= 0 else None,
        "follow": "true" if follow else None,
        "previous": "true" if previous else None,
        "timestamps": "true" if timestamps else None,
        "sinceSeconds": since_seconds(since) if since else None,
        "limitBytes": limit_bytes,
    }
    pods = lookup("pods")
    assert pods is not None
    out = sys.stdout.buffer
    for chunk in client.stream_lines(pods.path(ns, pod_name, "log"), params):
        out.write(chunk)
        out.flush()
