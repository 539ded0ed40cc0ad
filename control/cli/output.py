"""What tkctl writes: kubectl's wording for errors (client-side ``error: ...``, ``Error from server
(Reason): ...``, ``The Pod "x" is invalid: ...``) and the ``-o yaml|json|name`` renderings.
Pure functions plus thin ``click.echo`` wrappers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from common import errors, meta
from common.resources import ResourceType

OUTPUT_FORMATS = ("json", "name", "wide", "yaml")


class CliError(Exception):
    """A client-side failure printed as ``error: <message>``; exits with ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Failed(Exception):
    """The command already reported its failures; only the exit code is left to set."""

    def __init__(self, code: int = 1) -> None:
        super().__init__(code)
        self.code = code


def _invalid_message(err: errors.ApiError) -> str:
    """kubectl's ``The Kind "name" is invalid: field: message`` (one line per cause if several)."""
    kind, name = err.details.get("kind"), err.details.get("name")
    if not err.details and not err.causes:
        return f"The request is invalid: {err.message}" if err.message else "The request is invalid"
    head = (
        f'The {kind or ""} "{name or ""}" is invalid' if kind or name else "The request is invalid"
    )
    if not kind and not name and not err.causes and err.message:
        head += f": {err.message}"
    seen: list[str] = []
    for cause in err.causes:
        text = f"{cause.field}: {cause.message}" if cause.field else cause.message
        if text not in seen:
            seen.append(text)
    if not seen:
        return head
    if len(seen) == 1:
        return f"{head}: {seen[0]}"
    return f"{head}: \n" + "\n".join(f"* {s}" for s in seen)


def api_error_message(err: errors.ApiError, action: str = "") -> str:
    """How kubectl prints a server error; ``action`` reads like ``error when creating "f"``."""
    if type(err).__name__ == "UnreachableError" or (
        isinstance(err, errors.ServerTimeoutError) and "did not answer" in err.message
    ):
        return err.message
    if isinstance(err, errors.UnauthorizedError):
        return f"error: You must be logged in to the server ({err.message or 'Unauthorized'})"
    if isinstance(err, errors.InvalidError):
        return _invalid_message(err)
    prefix = f"{action}: " if action else ""
    reason = err.reason or ""
    head = f"Error from server ({reason})" if reason else "Error from server"
    return f"{head}: {prefix}{err.message}"


def echo_error(message: str) -> None:
    click.echo(message, err=True)


def client_error(message: str) -> None:
    """Print a client-side failure the kubectl way (``error: ...``)."""
    echo_error(message if message.startswith("error: ") else f"error: {message}")


# -- -o yaml | json | name ------------------------------------------------------------------------


def dump_yaml(obj: Any) -> str:
    """YAML as kubectl prints it: keys sorted, block style, no line wrapping."""
    import yaml

    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=True, width=1 << 30)


def dump_json(obj: Any) -> str:
    """JSON as kubectl prints it: 4-space indent, keys sorted."""
    return json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def with_type(obj: dict[str, Any], rt: ResourceType) -> dict[str, Any]:
    """List items come without ``apiVersion``/``kind``; kubectl shows them on every object."""
    if obj.get("kind") and obj.get("apiVersion"):
        return obj
    return {"apiVersion": rt.api_version, "kind": rt.kind, **obj}


def as_list(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "items": list(items),
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }


def object_name(obj: dict[str, Any], rt: ResourceType) -> str:
    """``-o name``: ``pod/web``, ``deployment.apps/web``."""
    return f"{rt.kind_prefix}/{(obj.get('metadata') or {}).get('name', '')}"


def render(obj: dict[str, Any], output: str, managed_fields: bool = False) -> str:
    """An object, a List or a watch event as JSON or YAML; without metadata.managedFields
    unless asked (as kubectl prints them only with ``--show-managed-fields``)."""
    if not managed_fields:
        obj = _without_managed_fields(obj)
    return dump_json(obj) if output == "json" else dump_yaml(obj)


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    if isinstance(obj.get("items"), list):
        items = [_without_managed_fields(i) if isinstance(i, dict) else i for i in obj["items"]]
        return {**obj, "items": items}
    if isinstance(obj.get("object"), dict) and "type" in obj:
        return {**obj, "object": _without_managed_fields(obj["object"])}
    return meta.without_managed_fields(obj)
