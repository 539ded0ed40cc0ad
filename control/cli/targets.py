"""kubectl's resource arguments: ``TYPE[,TYPE] [NAME...]`` or ``TYPE/NAME...``, with type names
matched case-insensitively against plurals, singulars, kinds and short names. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from common.resources import RESOURCES, ResourceType, lookup
from control.cli.output import CliError


@dataclass
class Target:
    """One resource type and the names asked for (none: every object of the type)."""

    rt: ResourceType
    names: list[str] = field(default_factory=list)


def resource_type(name: str) -> ResourceType:
    rt = lookup(name)
    if rt is None:
        raise CliError(f'the server doesn\'t have a resource type "{name}"')
    return rt


def resource_types(spec: str) -> list[ResourceType]:
    """``pods,deploy`` → their types; ``all`` → every type in the ``all`` category."""
    types: list[ResourceType] = []
    for part in spec.split(","):
        if not part:
            continue
        if part.lower() == "all":
            found = [rt for rt in RESOURCES if "all" in rt.categories]
        else:
            found = [resource_type(part)]
        types.extend(rt for rt in found if rt not in types)
    if not types:
        raise CliError(f'the server doesn\'t have a resource type "{spec}"')
    return types


def parse_targets(args: Sequence[str], command: str = "get") -> list[Target]:
    """The resource arguments of ``get``/``describe``/``delete``; ``[]`` when there are none."""
    if not args:
        return []
    if any("/" in a for a in args):
        if not all("/" in a for a in args):
            raise CliError(
                "there is no need to specify a resource type as a separate argument when passing "
                f"arguments in resource/name form (e.g. 'tkctl {command} resource/<resource_name>' "
                f"instead of 'tkctl {command} resource resource/<resource_name>'"
            )
        targets: list[Target] = []
        for arg in args:
            kind, _, name = arg.partition("/")
            if not kind or not name or "/" in name:
                raise CliError(
                    "arguments in resource/name form must have a single resource and name"
                )
            rt = resource_type(kind)
            if targets and targets[-1].rt == rt:
                targets[-1].names.append(name)
            else:
                targets.append(Target(rt, [name]))
        return targets
    types = resource_types(args[0])
    return [Target(rt, list(args[1:])) for rt in types]


def multiple_types(targets: Sequence[Target], args: Sequence[str]) -> bool:
    """Whether kubectl would print ``kind/name`` in the NAME column (several types, or ``all``)."""
    return len({t.rt for t in targets}) > 1 or bool(
        args and "/" not in args[0] and "all" in args[0].lower().split(",")
    )
