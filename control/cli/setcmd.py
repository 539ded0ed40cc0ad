"""``tkctl set image (TYPE NAME | TYPE/NAME | TYPE -l SEL) CONTAINER=IMAGE...``: change container
images of a Deployment's (or ReplicaSet's) pod template, or of a Pod, with the strategic merge
patch kubectl sends (``deployment.apps/web image updated``). ``*`` names every container.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import click

from common.apply import three_way_patch
from control.cli.flags import command
from control.cli.groups import group
from control.cli.output import CliError, Failed
from control.cli.resolve import STRATEGIC_MERGE_PATCH, find_objects
from control.cli.session import Session, global_options


def split_images(args: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Resources first, then ``container=image`` pairs, as kubectl splits them."""
    resources: list[str] = []
    images: dict[str, str] = {}
    for arg in args:
        if "=" in arg:
            name, _, image = arg.partition("=")
            if not name or not image:
                raise CliError(f"invalid image update: {arg}")
            images[name] = image
        elif images:
            raise CliError(f"all resources must be specified before image changes: {arg}")
        else:
            resources.append(arg)
    if not images:
        raise CliError("at least one image update is required")
    return resources, images


def _dict(parent: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def with_images(obj: Mapping[str, Any], images: Mapping[str, str], pod: bool) -> dict[str, Any]:
    """A copy of ``obj`` with the images changed (in its pod template, or its own spec for a
    Pod); ``CliError`` for a container it does not have."""
    out = copy.deepcopy(dict(obj))
    spec = _dict(out, "spec") if pod else _dict(_dict(_dict(out, "spec"), "template"), "spec")
    containers = [
        c
        for key in ("initContainers", "containers")
        for c in spec.get(key) or []
        if isinstance(c, dict)
    ]
    for name, image in images.items():
        found = [c for c in containers if name in ("*", c.get("name"))]
        if not found:
            raise CliError(f'unable to find container named "{name}"')
        for c in found:
            c["image"] = image
    return out


@group("set")
@global_options
def set_() -> None:
    """Set specific features on objects: tkctl set image ..."""


@command()
@click.argument("args", nargs=-1)
@click.option("-l", "--selector", metavar="SELECTOR", help="Update the objects matching it.")
@click.option("--all", "all_", is_flag=True, help="Update every object of the type.")
@global_options
@click.pass_obj
def image(session: Session, args: tuple[str, ...], selector: str | None, all_: bool) -> None:
    """Update the images of a pod template: tkctl set image deploy/NAME CONTAINER=IMAGE ..."""
    resources, images = split_images(args)
    refs, failed = find_objects(session, resources, "set image", selector, all_)
    for ref in refs:
        patch = three_way_patch(None, with_images(ref.obj, images, ref.rt.kind == "Pod"), ref.obj)
        if not patch:
            continue
        session.client().patch(
            ref.rt, ref.name, patch, ref.namespace, patch_type=STRATEGIC_MERGE_PATCH
        )
        click.echo(f"{ref.label} image updated")
    if failed:
        raise Failed(1)


set_.add_command(image)
