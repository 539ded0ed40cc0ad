"""Bad input against a real ``tinykube up`` (gunicorn over TLS): an over-limit manifest gets the
server's 413 Status, read by tkctl, instead of a reset connection."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Cluster

pytestmark = pytest.mark.e2e


def test_an_oversized_manifest_gets_the_servers_413(cluster: Cluster) -> None:
    big = "x" * (5 * 1024 * 1024)
    manifest = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\n  annotations:\n"
        f"    a: {big}\nspec:\n  containers:\n  - {{name: c, image: tinykube/sleeper:1}}\n"
    )
    out = cluster.tkctl("create", "-f", "-", stdin=manifest, check=False)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        'Error from server (RequestEntityTooLarge): error when creating "STDIN": '
        "Request entity too large: limit is 3145728"
    )
    assert cluster.tkctl("get", "pod", "big", check=False).returncode == 1
