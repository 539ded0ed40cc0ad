"""The dry-run store answers writes as the real store would, and changes nothing."""

from __future__ import annotations

import pytest

from common import errors
from control.memory_store import MemoryStore
from control.registry.dryrun import DryRunStore


def _stored() -> tuple[MemoryStore, DryRunStore, dict[str, object]]:
    real = MemoryStore()
    obj = real.create("pods", {"metadata": {"name": "a", "namespace": "ns", "uid": "u1"}})
    return real, DryRunStore(real), obj


def test_create_answers_without_a_resource_version_and_stores_nothing() -> None:
    real, dry, _ = _stored()
    before = real.revision()
    out = dry.create("pods", {"metadata": {"name": "b", "namespace": "ns", "resourceVersion": "9"}})
    assert out["metadata"] == {"name": "b", "namespace": "ns"}
    with pytest.raises(errors.AlreadyExistsError):
        dry.create("pods", {"metadata": {"name": "a", "namespace": "ns"}})
    assert real.revision() == before
    with pytest.raises(errors.NotFoundError):
        real.get("pods", "ns", "b")


def test_update_checks_the_precondition_and_keeps_the_revision() -> None:
    real, dry, obj = _stored()
    rv = int(obj["metadata"]["resourceVersion"])  # type: ignore[index]
    new = {"metadata": {"name": "a", "namespace": "ns", "labels": {"x": "y"}}}
    out = dry.update("pods", new, expected_rv=rv)
    assert out["metadata"]["resourceVersion"] == str(rv) and out["metadata"]["labels"]
    with pytest.raises(errors.ConflictError):
        dry.update("pods", new, expected_rv=rv + 1)
    with pytest.raises(errors.NotFoundError):
        dry.update("pods", {"metadata": {"name": "zz", "namespace": "ns"}})
    assert real.get("pods", "ns", "a") == obj and real.revision() == rv


def test_delete_checks_preconditions_and_keeps_the_object() -> None:
    real, dry, obj = _stored()
    assert dry.delete("pods", "ns", "a", expected_uid="u1") == obj
    with pytest.raises(errors.ConflictError, match="UID in precondition: u2"):
        dry.delete("pods", "ns", "a", expected_uid="u2")
    with pytest.raises(errors.ConflictError):
        dry.delete("pods", "ns", "a", expected_rv=12345)
    with pytest.raises(errors.NotFoundError):
        dry.delete("pods", "ns", "zz")
    assert real.get("pods", "ns", "a") == obj
