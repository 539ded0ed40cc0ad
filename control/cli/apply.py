"""``tkctl apply -f`` (kubectl's client-side apply: create with the last-applied annotation, or a
three-way strategic merge patch from the last-applied configuration, the manifest and the live
object, ``common.apply``) and ``create_one``, what ``tkctl create -f`` does per object.

Every file is read and checked before anything is sent; good objects are then sent one by one, each
failure is reported on stderr, and the command exits 1 at the end if anything failed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

import click

from common import errors
from common.apply import apply_patch
from common.manifest import (
    LAST_APPLIED,
    Manifest,
    ManifestError,
    read_manifests,
    resource_type,
    with_last_applied,
)
from common.resources import ResourceType
from control.cli.flags import command
from control.cli.output import CliError, Failed, api_error_message, client_error, echo_error
from control.cli.resolve import STRATEGIC_MERGE_PATCH
from control.cli.session import Client, Session, global_options

T = TypeVar("T")
VALIDATE_ON = ("true", "strict", "warn")
VALIDATE_OFF = ("false", "ignore")


class _StepFailed(Exception):
    """One object failed; ``text`` is already worded for stderr."""

    def __init__(self, text: str, unreachable: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.unreachable = unreachable


def _failed(e: errors.ApiError, action: str) -> _StepFailed:
    return _StepFailed(api_error_message(e, action), type(e).__name__ == "UnreachableError")


def _step(action: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except errors.ApiError as e:
        raise _failed(e, action) from e


def _validate_flag(value: str) -> bool:
    if value.lower() in VALIDATE_ON:
        return True
    if value.lower() in VALIDATE_OFF:
        return False
    raise CliError(
        f'invalid - validate option "{value}"; must be one of: strict (or true), warn, '
        "ignore (or false)"
    )


def _namespace(session: Session, m: Manifest, rt: ResourceType) -> str | None:
    """The namespace an object goes to: its own, else ``-n``/the context's; a clash is an error."""
    if not rt.namespaced:
        return None
    if m.namespace:
        if session.namespace and session.namespace != m.namespace:
            raise CliError(
                f'the namespace from the provided object "{m.namespace}" does not match the '
                f"namespace \"{session.namespace}\". You must pass '--namespace={m.namespace}' "
                "to perform this operation."
            )
        return m.namespace
    return session.default_namespace


def _prepared(session: Session, m: Manifest) -> tuple[ResourceType, dict[str, Any], str | None]:
    rt = resource_type(m.obj, m.source)
    ns = _namespace(session, m, rt)
    obj = copy.deepcopy(m.obj)
    if ns is not None:
        obj.setdefault("metadata", {})["namespace"] = ns
    return rt, obj, ns


def apply_one(session: Session, client: Client, m: Manifest, dry_run: bool = False) -> str:
    """Apply one object; the line kubectl prints (``pod/web created|configured|unchanged``)."""
    rt, obj, ns = _prepared(session, m)
    name = m.name
    if not name:
        raise CliError(
            f'error when retrieving current configuration of "{m.source}": '
            "resource name may not be empty"
        )
    label = f"{rt.kind_prefix}/{name}"
    suffix = " (dry run)" if dry_run else ""
    try:
        current = client.get(rt, name, ns)
    except errors.NotFoundError:
        if not dry_run:
            action = f'error when creating "{m.source}"'
            _step(action, lambda: client.create(rt, with_last_applied(obj), ns))
        return f"{label} created{suffix}"
    except errors.ApiError as e:
        action = f'error when retrieving current configuration of "{m.source}"'
        raise _failed(e, action) from e
    patch = apply_patch(current, obj)
    if not patch:
        return f"{label} unchanged{suffix}"
    if LAST_APPLIED not in ((current.get("metadata") or {}).get("annotations") or {}):
        echo_error(
            f"Warning: resource {rt.plural}/{name} is missing the {LAST_APPLIED} annotation "
            "which is required by tkctl apply. tkctl apply should only be used on resources "
            "created declaratively by either tkctl create --save-config or tkctl apply. The "
            "missing annotation will be patched automatically."
        )
    if not dry_run:
        action = f'error when applying patch to "{m.source}"'
        _step(
            action,
            lambda: client.patch(rt, name, patch, ns, patch_type=STRATEGIC_MERGE_PATCH),
        )
    return f"{label} configured{suffix}"


def create_one(
    session: Session, client: Client, m: Manifest, save_config: bool = False, dry_run: bool = False
) -> str:
    """Create one object; the line kubectl prints (``pod/web created``)."""
    rt, obj, ns = _prepared(session, m)
    body = with_last_applied(obj) if save_config else obj
    if dry_run:
        return f"{rt.kind_prefix}/{m.name} created (dry run)"
    created = _step(f'error when creating "{m.source}"', lambda: client.create(rt, body, ns))
    name = (created.get("metadata") or {}).get("name") or m.name
    return f"{rt.kind_prefix}/{name} created"


def run_all(
    session: Session,
    filenames: tuple[str, ...],
    validate: str,
    verb: str,
    one: Callable[[Session, Client, Manifest], str],
) -> None:
    """Read every manifest, report the bad ones, send the good ones; ``Failed`` if any failed."""
    if not filenames:
        raise click.UsageError("must specify one of -f and -k", click.get_current_context())
    manifests, problems = read_manifests(filenames, session.read_stdin, _validate_flag(validate))
    for problem in problems:
        _report_manifest(problem)
    if not manifests and not problems:
        raise CliError(f"no objects passed to {verb}")
    failed = bool(problems)
    for m in manifests:
        try:
            click.echo(one(session, session.client(), m))
        except _StepFailed as e:
            echo_error(e.text)
            failed = True
            if e.unreachable:
                break
        except (CliError, ManifestError) as e:
            _report_manifest(e)
            failed = True
    if failed:
        raise Failed(1)


def _report_manifest(problem: CliError | ManifestError) -> None:
    client_error(problem.message)
    if isinstance(problem, ManifestError) and problem.hint:
        echo_error(problem.hint)


_filename = click.option(
    "-f",
    "--filename",
    "filenames",
    multiple=True,
    metavar="FILE|DIR|-",
    help="Files, directories or - (stdin) holding the objects; repeatable.",
)
_validate = click.option(
    "--validate",
    default="true",
    show_default=True,
    metavar="true|false",
    help="Check manifests client-side before sending them (true/strict/warn or false/ignore).",
)
_dry_run = click.option(
    "--dry-run",
    type=click.Choice(["none", "client"]),
    default="none",
    help="client: only print what would be sent.",
)


@command()
@_filename
@_validate
@_dry_run
@global_options
@click.pass_obj
def apply(session: Session, filenames: tuple[str, ...], validate: str, dry_run: str) -> None:
    """Apply a configuration to resources by file name or stdin (creating them if needed)."""

    def one(s: Session, c: Client, m: Manifest) -> str:
        return apply_one(s, c, m, dry_run == "client")

    run_all(session, filenames, validate, "apply", one)
