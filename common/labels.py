"""Label selectors as values: requirements, matching, canonical string form, structured form.

The model of k8s.io/apimachinery/pkg/labels (``Requirement``, ``Selector``) and
metav1.LabelSelectorAsSelector for ``{matchLabels, matchExpressions}``. The string parser is in
``common.selectors``. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from common import errors, names
from common.fielderrors import aggregate, forbidden, invalid, required, validate_labels

# Operators, spelled as k8s.io/apimachinery/pkg/selection spells them.
IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
GREATER_THAN, LESS_THAN, EXISTS, DOES_NOT_EXIST = "gt", "lt", "exists", "!"
BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_INFIX = {
    EQUALS: "=",
    DOUBLE_EQUALS: "==",
    NOT_EQUALS: "!=",
    IN: " in ",
    NOT_IN: " notin ",
    GREATER_THAN: ">",
    LESS_THAN: "<",
}

_INT64_RE = re.compile("[+-]?[0-9]+")


def parse_int64(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 10, 64)``: ``None`` when it would fail."""
    if not _INT64_RE.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    """One ANDed term: ``key operator values``; values are kept sorted and unique."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator in (IN, EQUALS, DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if self.operator in (NOT_IN, NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if self.operator == EXISTS:
            return present
        if self.operator == DOES_NOT_EXIST:
            return not present
        if self.operator in (GREATER_THAN, LESS_THAN) and present and len(self.values) == 1:
            have, want = parse_int64(labels[self.key]), parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if self.operator == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        joined = ",".join(self.values)
        if self.operator in (IN, NOT_IN):
            joined = f"({joined})"
        return self.key + _INFIX[self.operator] + joined


class LabelSelector:
    """A parsed label selector: an AND of requirements, or the selector that matches nothing."""

    __slots__ = ("_nothing", "requirements")

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False):
        # Sorted by key (stably) so equal selectors print and compare the same.
        self.requirements: tuple[Requirement, ...] = tuple(
            sorted(requirements, key=lambda r: r.key)
        )
        self._nothing = nothing

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls()

    @classmethod
    def nothing(cls) -> LabelSelector:
        return cls(nothing=True)

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (``""`` or ``{}``)."""
        return not self._nothing and not self.requirements

    @property
    def matches_nothing(self) -> bool:
        """True for the nil selector (``selector: null``), which selects no object."""
        return self._nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value ``key`` must have (``key=v`` or ``key in (v)``), if any."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return "LabelSelector(<nothing>)" if self._nothing else f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return (self._nothing, self.requirements) == (other._nothing, other.requirements)

    def __hash__(self) -> int:
        return hash((self._nothing, self.requirements))


def selector_from_labels(labels: Mapping[str, str] | None) -> LabelSelector:
    """The selector matching exactly these labels (``key=value`` each); empty selects all."""
    return LabelSelector(Requirement(k, EQUALS, (v,)) for k, v in (labels or {}).items())


# ---------------------------------------------------------------------------------------------
# The structured form ({matchLabels, matchExpressions}).

_EXPRESSION_OPERATORS = {
    "In": IN,
    "NotIn": NOT_IN,
    "Exists": EXISTS,
    "DoesNotExist": DOES_NOT_EXIST,
}


def label_selector_causes(sel: Any, path: str = "spec.selector") -> list[errors.Cause]:
    """Kubernetes' ValidateLabelSelector: field errors for a ``{matchLabels, matchExpressions}``."""
    if not isinstance(sel, Mapping):
        return []
    causes = validate_labels(sel.get("matchLabels") or {}, f"{path}.matchLabels")
    for i, expr in enumerate(sel.get("matchExpressions") or []):
        epath = f"{path}.matchExpressions[{i}]"
        op, values = expr.get("operator") or "", list(expr.get("values") or [])
        if op in ("In", "NotIn"):
            if not values:
                causes.append(
                    required(
                        f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'"
                    )
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                causes.append(
                    forbidden(
                        f"{epath}.values",
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            causes.append(invalid(f"{epath}.operator", op, "not a valid selector operator"))
        key = expr.get("key") or ""
        causes.extend(invalid(f"{epath}.key", key, m) for m in names.is_qualified_name(key))
        for j, v in enumerate(values):
            causes.extend(invalid(f"{epath}.values[{j}]", v, m) for m in names.is_label_value(v))
    return causes


def selector_from_object(
    sel: Mapping[str, Any] | None, path: str = "spec.selector"
) -> LabelSelector:
    """``LabelSelectorAsSelector``: ``None`` matches nothing, ``{}`` matches everything.

    Raises errors.BadRequestError whose ``causes`` name the bad fields (re-raise them as
    ``invalid_error(kind, name, e.causes)`` when validating an object).
    """
    if sel is None:
        return LabelSelector.nothing()
    causes = label_selector_causes(sel, path)
    if causes:
        raise errors.BadRequestError(aggregate(causes), causes)
    reqs = [Requirement(k, EQUALS, (v,)) for k, v in (sel.get("matchLabels") or {}).items()]
    for expr in sel.get("matchExpressions") or []:
        op = _EXPRESSION_OPERATORS[expr["operator"]]
        values = tuple(sorted(set(expr.get("values") or [])))
        reqs.append(Requirement(expr["key"], op, values))
    return LabelSelector(reqs)
