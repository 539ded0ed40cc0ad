"""The options of a write that concern its field manager, validated as kube-apiserver validates
CreateOptions, UpdateOptions and PatchOptions: ``fieldManager`` (or the user agent's product),
and an apply's ``force``. Pure over the request's parameters and headers."""

from __future__ import annotations

from collections.abc import Mapping

from common import errors
from control.registry import managedfields

# Server-side apply's media type (its CBOR form is refused as an unknown body format).
APPLY_PATCH = "application/apply-patch+yaml"
# The methods whose options carry a fieldManager.
WRITES = ("POST", "PUT", "PATCH")


def field_manager(method: str, args: Mapping[str, str], user_agent: str) -> str:
    """The manager of a write: ``fieldManager`` (at most 128 characters, as kube-apiserver
    validates its options) or the user agent's product."""
    given = args.get("fieldManager", "")
    if len(given) > managedfields.MAX_MANAGER_LENGTH and method in WRITES:
        options = {"PUT": "UpdateOptions", "PATCH": "PatchOptions"}.get(method)
        message = f"Too long: may not be more than {managedfields.MAX_MANAGER_LENGTH} bytes"
        raise errors.InvalidError(
            f'{options or "CreateOptions"}.meta.k8s.io "" is invalid: fieldManager: {message}',
            [errors.Cause("fieldManager", "FieldValueTooLong", message)],
        )
    return managedfields.manager_from(given, user_agent)


def check_patch_options(applying: bool, args: Mapping[str, str]) -> None:
    """kube-apiserver's validation of PatchOptions: an apply names its manager; only an apply
    may be forced."""
    if applying and not args.get("fieldManager"):
        message = "Required value: is required for apply patch"
        raise errors.InvalidError(
            f'PatchOptions.meta.k8s.io "" is invalid: fieldManager: {message}',
            [errors.Cause("fieldManager", "FieldValueRequired", message)],
        )
    if not applying and "force" in args:
        message = "Forbidden: may not be specified for non-apply patch"
        raise errors.InvalidError(
            f'PatchOptions.meta.k8s.io "" is invalid: force: {message}',
            [errors.Cause("force", "FieldValueForbidden", message)],
        )
