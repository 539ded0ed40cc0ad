"""tkctl create pdb, get and describe of PodDisruptionBudgets against the FAKE API client."""

from __future__ import annotations

import pytest

from control.cli.create_pdb import build_pdb
from control.cli.describe_pdb import describe_pdb
from tests.unit.cli_fake import NOW, FakeApi, tk, ts


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


def test_create_pdb_builds_kubectls_budget(api: FakeApi) -> None:
    r = tk(api, "create", "pdb", "web", "--selector=app=web,tier in (a,b)", "--min-available=2")
    assert (r.exit_code, r.stdout) == (0, "poddisruptionbudget.policy/web created\n")
    (call,) = [c for c in api.calls if c[0] == "create"]
    assert call[1:] == ("poddisruptionbudgets", {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]}]}, "minAvailable": 2}},
        "default")  # fmt: skip
    spec = build_pdb("web", "app=web", "", "25%")["spec"]
    assert spec == {"selector": {"matchLabels": {"app": "web"}}, "maxUnavailable": "25%"}


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        ((), "error: one of min-available or max-unavailable must be specified"),
        (("--min-available=1", "--max-unavailable=1"),
         "error: min-available and max-unavailable cannot be both specified"),
        (("--max-unavailable=ten",), "error: invalid format specified for max-unavailable"),
    ],
)  # fmt: skip
def test_create_pdb_flag_errors(api: FakeApi, flags: tuple[str, ...], error: str) -> None:
    r = tk(api, "create", "pdb", "web", "--selector=app=web", *flags)
    assert (r.exit_code, r.stderr.strip()) == (1, error)
    assert not [c for c in api.calls if c[0] == "create"]


def budget() -> dict:
    return {
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ts(120)},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "maxUnavailable": "25%"},
        "status": {"disruptionsAllowed": 1, "currentHealthy": 4, "desiredHealthy": 3,
                   "expectedPods": 4},
    }  # fmt: skip


def test_get_pdb_prints_kubectls_columns(api: FakeApi) -> None:
    api.add("poddisruptionbudgets", budget())
    r = tk(api, "get", "pdb")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        "NAME   MIN AVAILABLE   MAX UNAVAILABLE   ALLOWED DISRUPTIONS   AGE",
        "web    N/A             25%               1                     2m",
    ]


def test_describe_pdb() -> None:
    assert describe_pdb(budget(), [], NOW).splitlines() == [
        "Name:             web",
        "Namespace:        default",
        "Max unavailable:  25%",
        "Selector:         app=web",
        "Status:",
        "    Allowed disruptions:  1",
        "    Current:              4",
        "    Desired:              3",
        "    Total:                4",
        "Events:                   <none>",
    ]
