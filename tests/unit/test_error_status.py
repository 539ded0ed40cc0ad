"""The Status of each error: ``details`` present where kube-apiserver's constructors always set
it (kubectl debug reads ``details.name`` of a 404 unchecked), empty fields left out."""

from __future__ import annotations

import pytest

from common import errors


@pytest.mark.parametrize(
    "cls",
    [
        errors.ForbiddenError,
        errors.NotFoundError,
        errors.MethodNotAllowedError,
        errors.AlreadyExistsError,
        errors.ConflictError,
        errors.InvalidError,
        errors.TooManyRequestsError,
        errors.InternalError,
        errors.ServerTimeoutError,
    ],
)
def test_details_are_always_there(cls: type[errors.ApiError]) -> None:
    assert cls("m").to_status()["details"] == {}


@pytest.mark.parametrize(
    "cls", [errors.BadRequestError, errors.UnauthorizedError, errors.GoneError]
)
def test_details_only_when_there_are_some(cls: type[errors.ApiError]) -> None:
    assert "details" not in cls("m").to_status()


def test_empty_detail_fields_are_left_out() -> None:
    status = errors.NotFoundError("m", details={"name": "x", "group": "", "kind": "pods"})
    assert status.to_status()["details"] == {"name": "x", "kind": "pods"}
    round_trip = errors.from_status(status.to_status())
    assert isinstance(round_trip, errors.NotFoundError) and round_trip.details["name"] == "x"
