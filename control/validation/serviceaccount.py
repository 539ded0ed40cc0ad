"""ServiceAccount (core/v1) and the token kinds: their schemas as k8s.io/api defines them
(ServiceAccount, TokenRequest, authentication.k8s.io/v1 TokenReview) and their validation as
pkg/apis/core/validation (ValidateServiceAccount, ValidateTokenRequest) and
pkg/apis/authentication/validation do it. Registers them with control.validation. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import invalid, required
from control.validation.decode import register_schema
from control.validation.dispatch import register_validator
from control.validation.meta import validate_object_meta, validate_object_meta_update
from control.validation.schema import K8sModel, ObjectMeta, ObjectReference, TypeMeta
from control.validation.schema_pod import LocalObjectReference

# TokenRequest's bounds (pkg/apis/core/validation: ten minutes at least, 2^32 seconds at most).
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32


class ServiceAccount(TypeMeta):
    metadata: ObjectMeta | None = None
    secrets: list[ObjectReference] | None = None
    image_pull_secrets: list[LocalObjectReference] | None = None
    automount_service_account_token: bool | None = None


class BoundObjectReference(K8sModel):
    kind: str | None = None
    api_version: str | None = None
    name: str | None = None
    uid: str | None = None


class TokenRequestSpec(K8sModel):
    audiences: list[str] | None = None
    expiration_seconds: int | None = None
    bound_object_ref: BoundObjectReference | None = None


class TokenRequest(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: TokenRequestSpec | None = None


class TokenReviewSpec(K8sModel):
    token: str | None = None
    audiences: list[str] | None = None


class TokenReview(TypeMeta):
    metadata: ObjectMeta | None = None
    spec: TokenReviewSpec | None = None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def validate_service_account(sa: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    if old is None:
        return validate_object_meta(sa.get("metadata"), True, names.name_is_dns_subdomain)
    return validate_object_meta_update(sa.get("metadata"), old.get("metadata"))


def validate_token_request(request: Mapping[str, Any]) -> list[Cause]:
    """ValidateTokenRequest: an expiration of at least ten minutes and below 2^32 seconds."""
    seconds = _dict(request.get("spec")).get("expirationSeconds")
    if seconds is None:
        return []
    if seconds < MIN_EXPIRATION_SECONDS:
        return [invalid("spec.expirationSeconds", seconds,
                        "may not specify a duration less than 10 minutes")]  # fmt: skip
    if seconds > MAX_EXPIRATION_SECONDS:
        return [invalid("spec.expirationSeconds", seconds,
                        "may not specify a duration larger than 2^32 seconds")]  # fmt: skip
    return []


def validate_token_review(review: Mapping[str, Any]) -> list[Cause]:
    if not _dict(review.get("spec")).get("token"):
        return [required("spec.token")]
    return []


register_schema("ServiceAccount", ServiceAccount)
register_schema("TokenRequest", TokenRequest)
register_schema("TokenReview", TokenReview)
register_validator("ServiceAccount", validate_service_account)
