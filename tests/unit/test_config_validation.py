"""ConfigMap/Secret validation rules that need no server: config key names and Go's base64."""

from __future__ import annotations

import pytest

from common.names import is_config_map_key
from control.validation.schema_config import base64_error


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", None),
        ("YQ==", None),
        ("YWJj", None),
        ("YW\nJj", None),
        ("no*t", "illegal base64 data at input byte 2"),
        ("YW\nJ!", "illegal base64 data at input byte 4"),
    ],
)
def test_base64_as_go_decodes_it(text: str, error: str | None) -> None:
    assert base64_error(text) == error


@pytest.mark.parametrize("text", ["YQ", "YQ=", "Y", "YWJjZ", "YQ==YQ=="])
def test_base64_without_its_padding_is_refused(text: str) -> None:
    assert (base64_error(text) or "").startswith("illegal base64 data at input byte ")


def test_config_map_keys() -> None:
    assert is_config_map_key("a.b_C-9") == []
    assert is_config_map_key(".") == ["must not be '.'"]
    assert is_config_map_key("..") == ["must not be '..'"]
    assert is_config_map_key("..data") == ["must not start with '..'"]
    assert is_config_map_key("a" * 254) == ["must be no more than 253 characters"]
    assert len(is_config_map_key("a b")) == 1
