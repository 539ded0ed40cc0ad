"""Which Content-Types a PATCH is routed with: kube-apiserver's four patch types (parameters and
lists as go-restful reads them); CBOR apply, anything else or none is go-restful's 415."""

from __future__ import annotations

import pytest

from control.apiserver import writeoptions


@pytest.mark.parametrize("content_type", [
    "application/merge-patch+json",
    "application/strategic-merge-patch+json; charset=utf-8",
    " application/json-patch+json ",
    "application/apply-patch+yaml",
    "text/plain, application/apply-patch+yaml",
])  # fmt: skip
def test_the_patch_types_are_routed(content_type: str) -> None:
    writeoptions.check_patch_type(content_type)


@pytest.mark.parametrize("content_type", [
    "application/apply-patch+cbor", "application/cbor", "application/json", "", None,
    "Application/Merge-Patch+Json", "application/merge-patch+json+x",
])  # fmt: skip
def test_anything_else_finds_no_route(content_type: str | None) -> None:
    with pytest.raises(writeoptions.UnroutedMediaTypeError) as refused:
        writeoptions.check_patch_type(content_type)
    assert refused.value.to_status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "415: Unsupported Media Type", "reason": "UnsupportedMediaType",
        "details": {}, "code": 415,
    }  # fmt: skip
