"""Resource quantities (``100m``, ``64Mi``, ``1G``, ``1e3``) parsed as Kubernetes parses them.

A port of k8s.io/apimachinery/pkg/api/resource ParseQuantity: the same scanner, suffixes and
error messages, with exact decimal arithmetic (never floats). Pure: no I/O.
"""

from __future__ import annotations

import decimal
import math
import re
from decimal import Decimal

# The regular expression Kubernetes quotes in its "wrong format" error (not used for parsing).
QUANTITY_REGEX = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT = f"quantities must match the regular expression '{QUANTITY_REGEX}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_DECIMAL_SUFFIXES = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")
_EXPONENT_RE = re.compile("[+-]?[0-9]+")
# Quantities keep at most nano precision; smaller non-zero amounts round up (away from zero).
_NANO = Decimal("1e-9")
# Enough digits for any int64 amount at nano scale with an exponent suffix.
_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_UP, Emax=10**9, Emin=-(10**9))


def _scan_digits(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _DIGITS:
        pos += 1
    return pos


def _split(text: str) -> tuple[str, str]:
    """Kubernetes' ``parseQuantityString``: the signed number and the suffix."""
    pos = 1 if text[:1] in ("+", "-") else 0
    pos = _scan_digits(text, pos)
    if pos < len(text) and text[pos] == ".":
        pos = _scan_digits(text, pos + 1)
    number = text[:pos]
    suffix_start = pos
    while pos < len(text) and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < len(text) and text[pos] in "+-":
        pos += 1
    if _scan_digits(text, pos) != len(text):
        raise ValueError(ERR_FORMAT)
    return number, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int]:
    """(base, exponent) of a suffix: ``Mi`` is 2**20, ``k`` is 10**3, ``e6`` is 10**6."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix]
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix]
    if len(suffix) > 1 and suffix[0] in "eE" and _EXPONENT_RE.fullmatch(suffix[1:]):
        return 10, int(suffix[1:])
    raise ValueError(ERR_SUFFIX)


def parse_quantity(quantity: str | int | float) -> Decimal:
    """The exact value of a quantity; raises ValueError with Kubernetes' message when malformed.

    JSON numbers are accepted as Kubernetes accepts them (``cpu: 2``, ``cpu: 0.5``).
    """
    if isinstance(quantity, bool):
        raise ValueError(ERR_FORMAT)
    text = repr(quantity) if isinstance(quantity, float) else str(quantity)
    text = text.strip()
    if not text:
        raise ValueError(ERR_FORMAT)
    number, suffix = _split(text)
    base, exponent = _interpret(suffix)
    # Like Kubernetes' scanner, a missing numeric part ("m", "-", ".") reads as zero.
    if number.lstrip("+-") in ("", "."):
        return Decimal(0)
    try:
        value = _CONTEXT.multiply(Decimal(number), _CONTEXT.power(Decimal(base), exponent))
        if value != 0:
            value = value.quantize(_NANO, rounding=decimal.ROUND_UP, context=_CONTEXT)
    except decimal.DecimalException as e:
        raise ValueError(ERR_NUMERIC) from e
    return value.normalize(_CONTEXT) if value != 0 else Decimal(0)


def is_quantity(quantity: object) -> bool:
    if not isinstance(quantity, str | int | float) or isinstance(quantity, bool):
        return False
    try:
        parse_quantity(quantity)
    except ValueError:
        return False
    return True


def parse_cpu_millis(quantity: str | int | float) -> int:
    """CPU in millicores (``100m`` -> 100, ``1.5`` -> 1500), rounded up like ``MilliValue()``."""
    return math.ceil(parse_quantity(quantity) * 1000)


def parse_bytes(quantity: str | int | float) -> int:
    """Memory or storage in bytes (``64Mi`` -> 67108864), rounded up like ``Value()``."""
    return math.ceil(parse_quantity(quantity))
