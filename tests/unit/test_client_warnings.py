"""The client reads Warning headers (RFC 7234, several joined by commas) as client-go does."""

from __future__ import annotations

from common.client import warning_texts


def test_warning_headers_are_read_as_kubectl_reads_them() -> None:
    header = '299 - "would violate PodSecurity \\"baseline:latest\\": hostPort (a, b)", 299 - "x"'
    assert warning_texts(header) == [
        'would violate PodSecurity "baseline:latest": hostPort (a, b)',
        "x",
    ]
    assert warning_texts("") == []
