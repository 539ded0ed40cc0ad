"""The one exception tree of tinykube, shared by the API server, its clients and the agent.

Every error carries the HTTP status and the Kubernetes ``reason`` it maps to, so the API server
turns any of them into a ``Status`` object with one handler and the API client turns a ``Status``
back into the same class. Pure: no I/O.

    ApiError                      base; .code, .reason, .message, .causes, .details
      BadRequestError             400 BadRequest      malformed body, unknown field, bad selector
      UnauthorizedError           401 Unauthorized    missing or unknown bearer token
      ForbiddenError              403 Forbidden       token not allowed to do this
      NotFoundError               404 NotFound
      MethodNotAllowedError       405 MethodNotAllowed
      NotAcceptableError          406 NotAcceptable   no answer in a media type the Accept allows
      AlreadyExistsError          409 AlreadyExists   create of an existing name
      ConflictError               409 Conflict        stale resourceVersion
        ClaimTakenError           409                 a value (ClusterIP, node port) held by another
      GoneError                   410 Expired         watch from a compacted resourceVersion
      RequestEntityTooLargeError  413 RequestEntityTooLarge
      UnsupportedMediaTypeError   415 UnsupportedMediaType
      InvalidError                422 Invalid         validation failed; .causes name the fields
      TooManyRequestsError        429 TooManyRequests
      InternalError               500 InternalError
      ServiceUnavailableError     503 ServiceUnavailable  store (Redis) or node unreachable
        StoreCredentialsError     503                 the store refused our credentials
      ServerTimeoutError          504 Timeout
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Cause:
    """One entry of ``Status.details.causes``: which field is wrong and why."""

    field: str
    reason: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


@dataclass
class ApiError(Exception):
    """Base of every tinykube error; ``code`` and ``reason`` come from the subclass."""

    message: str
    causes: list[Cause] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    code: int = 500
    reason: str = "InternalError"
    # The Status's ListMeta (``continue``: the token a 410 for a too old one offers instead).
    metadata: dict[str, Any] = field(default_factory=dict)

    default_code: ClassVar[int] = 500
    default_reason: ClassVar[str] = "InternalError"
    # kube-apiserver's constructors of these reasons always set ``details`` (clients such as
    # kubectl debug read ``details.name`` of a NotFound without checking it is there).
    always_details: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if type(self) is not ApiError:
            self.code = self.default_code
            self.reason = self.default_reason
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        return self.message

    @property
    def retryable(self) -> bool:
        """Whether trying the same request again later may succeed."""
        return self.code in (409, 429, 500, 503, 504) and self.reason != "AlreadyExists"

    def to_status(self) -> dict[str, Any]:
        # Every field of StatusDetails is omitempty: an empty group is not sent.
        details = {k: v for k, v in self.details.items() if v not in ("", None)}
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": dict(self.metadata),
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if details or self.always_details:
            status["details"] = details
        return status


class BadRequestError(ApiError):
    default_code, default_reason = 400, "BadRequest"


class UnauthorizedError(ApiError):
    default_code, default_reason = 401, "Unauthorized"


class ForbiddenError(ApiError):
    default_code, default_reason = 403, "Forbidden"
    always_details = True


class NotFoundError(ApiError):
    default_code, default_reason = 404, "NotFound"
    always_details = True


class MethodNotAllowedError(ApiError):
    default_code, default_reason = 405, "MethodNotAllowed"
    always_details = True


class NotAcceptableError(ApiError):
    default_code, default_reason = 406, "NotAcceptable"


class AlreadyExistsError(ApiError):
    default_code, default_reason = 409, "AlreadyExists"
    always_details = True


class ConflictError(ApiError):
    default_code, default_reason = 409, "Conflict"
    always_details = True


@dataclass
class ClaimTakenError(ConflictError):
    """A store write asked for a value another object holds (``claim``, ``pool:value``); the
    registry turns it into the 422 of a requested value or picks another one."""

    claim: str = ""


class GoneError(ApiError):
    default_code, default_reason = 410, "Expired"


class RequestEntityTooLargeError(ApiError):
    default_code, default_reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaTypeError(ApiError):
    default_code, default_reason = 415, "UnsupportedMediaType"


class InvalidError(ApiError):
    default_code, default_reason = 422, "Invalid"
    always_details = True


class TooManyRequestsError(ApiError):
    default_code, default_reason = 429, "TooManyRequests"
    always_details = True


class InternalError(ApiError):
    default_code, default_reason = 500, "InternalError"
    always_details = True


class ServiceUnavailableError(ApiError):
    default_code, default_reason = 503, "ServiceUnavailable"


class StoreCredentialsError(ServiceUnavailableError):
    """The store (Redis) refused the credentials it was given: retrying will not help."""

    @property
    def retryable(self) -> bool:
        return False


class ServerTimeoutError(ApiError):
    default_code, default_reason = 504, "Timeout"
    always_details = True


_BY_REASON: dict[str, type[ApiError]] = {
    cls.default_reason: cls
    for cls in (
        BadRequestError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        MethodNotAllowedError,
        NotAcceptableError,
        AlreadyExistsError,
        ConflictError,
        GoneError,
        RequestEntityTooLargeError,
        UnsupportedMediaTypeError,
        InvalidError,
        TooManyRequestsError,
        InternalError,
        ServiceUnavailableError,
        ServerTimeoutError,
    )
}
_BY_CODE: dict[int, type[ApiError]] = {}
for _cls in _BY_REASON.values():
    _BY_CODE.setdefault(_cls.default_code, _cls)


def from_status(status: dict[str, Any], http_code: int | None = None) -> ApiError:
    """Rebuild the error a ``Status`` object describes (the inverse of ``ApiError.to_status``)."""
    reason = str(status.get("reason") or "")
    code = int(status.get("code") or http_code or 500)
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code) or ApiError
    details = dict(status.get("details") or {})
    causes = [
        Cause(str(c.get("field", "")), str(c.get("reason", "")), str(c.get("message", "")))
        for c in details.pop("causes", []) or []
        if isinstance(c, dict)
    ]
    err = cls(str(status.get("message") or reason or f"HTTP {code}"), causes, details)
    if cls is ApiError or cls.default_code != code:
        err.code, err.reason = code, reason or err.reason
    return err
