"""The objects a write command (label, scale, set, rollout) acts on: ``TYPE NAME...``,
``TYPE/NAME...`` or ``TYPE -l SELECTOR``/``--all``, read from the server, with kubectl's messages
for missing ones; and the PATCH content types those commands send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from common import errors
from common.resources import ResourceType
from control.cli.output import CliError, api_error_message, echo_error
from control.cli.session import Session
from control.cli.targets import parse_targets

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclass
class Ref:
    """One object as read from the server, with its resource type."""

    rt: ResourceType
    obj: dict[str, Any]

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name") or "")

    @property
    def namespace(self) -> str | None:
        ns = (self.obj.get("metadata") or {}).get("namespace")
        return str(ns) if ns and self.rt.namespaced else None

    @property
    def label(self) -> str:
        """``deployment.apps/web``: how kubectl names the object in its messages."""
        return f"{self.rt.kind_prefix}/{self.name}"


def find_objects(
    session: Session,
    args: Sequence[str],
    command: str,
    selector: str | None = None,
    all_: bool = False,
) -> tuple[list[Ref], bool]:
    """The objects named by ``args`` (or matching ``selector``/``--all``), and whether some were
    missing (reported on stderr as the server worded it)."""
    targets = parse_targets(args, command)
    if not targets:
        raise CliError("you must provide one or more resources by argument or filename")
    client = session.client()
    refs: list[Ref] = []
    missing = False
    for t in targets:
        ns = session.default_namespace if t.rt.namespaced else None
        if t.names and (selector or all_):
            raise CliError("name cannot be provided when a selector is specified")
        if not t.names:
            if not selector and not all_:
                raise CliError("resource(s) were provided, but no name was specified")
            listing = client.list(t.rt, ns, label_selector=selector)
            items = sorted(listing.get("items") or [], key=lambda o: str(o["metadata"]["name"]))
            refs.extend(Ref(t.rt, {"apiVersion": t.rt.api_version, "kind": t.rt.kind, **o})
                        for o in items)  # fmt: skip
            continue
        for name in t.names:
            try:
                refs.append(Ref(t.rt, client.get(t.rt, name, ns)))
            except errors.NotFoundError as e:
                echo_error(api_error_message(e))
                missing = True
    return refs, missing
