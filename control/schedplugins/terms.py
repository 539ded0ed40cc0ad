"""Selectors as the scheduler's plugins read them from a pod spec: a label selector that is
malformed selects nothing (the API validates them; the scheduler never fails on one), with
``matchLabelKeys``/``mismatchLabelKeys`` folded in from the pod's own labels. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from common import errors
from common.labels import IN, NOT_IN, LabelSelector, Requirement, selector_from_object

Obj = Mapping[str, Any]


def m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def lst(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else []


def num(value: Any, default: int) -> int:
    """An integer field as given, or ``default`` when it is missing or not an integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def labels_of(obj: Obj) -> Mapping[str, str]:
    return m(m(obj.get("metadata")).get("labels"))


def label_selector(
    raw: Any,
    own_labels: Mapping[str, str] | None = None,
    match_keys: Sequence[Any] = (),
    mismatch_keys: Sequence[Any] = (),
) -> LabelSelector:
    """``raw`` ({matchLabels, matchExpressions}) as a selector; ``match_keys`` add ``key in
    (own value)`` and ``mismatch_keys`` ``key notin (own value)`` for keys the pod carries."""
    if not isinstance(raw, Mapping):
        return LabelSelector.nothing()
    try:
        selector = selector_from_object(raw, "labelSelector")
    except (errors.ApiError, KeyError, TypeError, AttributeError):
        return LabelSelector.nothing()
    own = own_labels or {}
    extra = [Requirement(k, IN, (own[k],)) for k in match_keys if isinstance(k, str) and k in own]
    extra += [
        Requirement(k, NOT_IN, (own[k],)) for k in mismatch_keys if isinstance(k, str) and k in own
    ]
    if not extra:
        return selector
    return LabelSelector((*selector.requirements, *extra))
