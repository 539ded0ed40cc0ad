"""The options of a write that concern its field manager, validated as kube-apiserver validates
CreateOptions, UpdateOptions and PatchOptions: ``fieldManager`` (or the user agent's product),
and an apply's ``force``. Pure over the request's parameters and headers."""

from __future__ import annotations

from collections.abc import Mapping

from common import errors
from control.registry import managedfields

# Server-side apply's media type.
APPLY_PATCH = "application/apply-patch+yaml"
# The media types a PATCH route consumes, as kube-apiserver's installer lists them. Its
# ``application/apply-patch+cbor`` (and every ``application/cbor`` body) needs the
# CBORServingAndStorage feature gate, alpha and off by default in Kubernetes 1.35: refused here too.
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    APPLY_PATCH,
)
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


class UnroutedMediaTypeError(errors.UnsupportedMediaTypeError):
    """go-restful's refusal, as kube-apiserver's service error handler wraps it (with an empty
    ``details``)."""

    always_details = True


def check_patch_type(content_type: str | None) -> None:
    """A PATCH whose Content-Type is none of ``PATCH_TYPES`` (or that has none) finds no
    route: 415 before its options or body are looked at, with go-restful's words."""
    for part in (content_type or "").split(","):
        if part.split(";")[0].strip() in PATCH_TYPES:
            return
    raise UnroutedMediaTypeError("415: Unsupported Media Type")


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
