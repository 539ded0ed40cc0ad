"""Resource quantities parse to the values and errors of Kubernetes' resource.ParseQuantity."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.quantity import (
    ERR_FORMAT,
    ERR_SUFFIX,
    is_quantity,
    parse_bytes,
    parse_cpu_millis,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Decimal("0.1")),
        ("1", Decimal(1)),
        ("1.5", Decimal("1.5")),
        ("64Mi", Decimal(64 * 2**20)),
        ("1Ki", Decimal(1024)),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("1G", Decimal(10**9)),
        ("1k", Decimal(1000)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("12e-3", Decimal("0.012")),
        ("1E", Decimal(10**18)),  # a bare E is exa, not an exponent
        ("1n", Decimal("1e-9")),
        ("0.1n", Decimal("1e-9")),  # below nano precision: rounded up
        ("-1", Decimal(-1)),
        ("+.5", Decimal("0.5")),
        ("1.", Decimal(1)),
        (" 2 ", Decimal(2)),
        ("0", Decimal(0)),
        (2, Decimal(2)),
        (0.25, Decimal("0.25")),
    ],
)
def test_parse_quantity_values(text: str | int | float, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", ERR_FORMAT),
        ("", ERR_FORMAT),
        ("1.2.3", ERR_FORMAT),
        ("1K", ERR_SUFFIX),  # kilo is a lowercase k
        ("1e", ERR_SUFFIX),
        ("1Mi3", ERR_SUFFIX),
        ("1 Mi", ERR_FORMAT),
        (True, ERR_FORMAT),
    ],
)
def test_parse_quantity_errors(text: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_quantity(text)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert not is_quantity(text)


def test_the_format_error_quotes_kubernetes_regex() -> None:
    assert ERR_FORMAT == (
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


@pytest.mark.parametrize(
    ("text", "millis"),
    [("100m", 100), ("1", 1000), ("0.5", 500), ("2", 2000), ("1.0001", 1001), ("250m", 250)],
)
def test_parse_cpu_millis_rounds_up(text: str, millis: int) -> None:
    assert parse_cpu_millis(text) == millis


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64Mi", 67108864),
        ("1G", 10**9),
        ("1Gi", 2**30),
        ("128974848", 128974848),
        ("1.5", 2),
        ("100m", 1),
        ("16318668Ki", 16318668 * 1024),
    ],
)
def test_parse_bytes(text: str, size: int) -> None:
    assert parse_bytes(text) == size


@given(st.integers(min_value=0, max_value=2**40), st.sampled_from(["", "k", "M", "Ki", "Mi"]))
def test_suffixes_scale_integers(n: int, suffix: str) -> None:
    scale = {"": 1, "k": 10**3, "M": 10**6, "Ki": 2**10, "Mi": 2**20}[suffix]
    assert parse_bytes(f"{n}{suffix}") == n * scale
