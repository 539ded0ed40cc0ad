"""The plans of the serviceaccount controller and the root CA publisher: what each namespace
must hold, and nothing for one that is going."""

from __future__ import annotations

from control.controllers import serviceaccounts_plan as plan

ACTIVE = {"metadata": {"name": "team"}, "status": {"phase": "Active"}}
GOING = {"metadata": {"name": "team", "deletionTimestamp": "2026-01-01T00:00:00Z"},
         "status": {"phase": "Terminating"}}  # fmt: skip


def test_the_default_account_is_made_only_where_missing_in_an_active_namespace() -> None:
    assert plan.missing_account(ACTIVE, None) == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": "team"},
    }
    assert plan.missing_account(ACTIVE, {"metadata": {"name": "default"}}) is None
    assert plan.missing_account(GOING, None) is None
    assert plan.missing_account(None, None) is None


def test_the_root_ca_is_created_kept_or_written_back() -> None:
    made = plan.root_ca(ACTIVE, None, "CA")
    assert made is not None and made["data"] == {"ca.crt": "CA"}
    assert made["metadata"]["name"] == "kube-root-ca.crt"
    assert plan.root_ca(ACTIVE, made, "CA") is None
    edited = {**made, "metadata": {**made["metadata"], "resourceVersion": "7"},
              "data": {"ca.crt": "x", "extra": "y"}}  # fmt: skip
    fixed = plan.root_ca(ACTIVE, edited, "CA")
    assert fixed is not None and fixed["data"] == {"ca.crt": "CA"}
    assert fixed["metadata"]["resourceVersion"] == "7"
    assert plan.root_ca(GOING, None, "CA") is None
