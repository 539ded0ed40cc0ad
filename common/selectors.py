"""Selectors for list and watch: the ``labelSelector`` string grammar, plus re-exports.

A port of the labels.Parse lexer and parser (k8s.io/apimachinery/pkg/labels/selector.go) with
its exact error messages. Everything a caller needs about selectors is importable from here: the
label selector model (``common.labels``) and field selectors (``common.fieldselectors``). Pure.
"""

from __future__ import annotations

from common import errors, names
from common.fielderrors import format_value
from common.fieldselectors import (
    FIELD_LABELS,
    FieldSelector,
    event_fields,
    field_labels,
    generic_fields,
    namespace_fields,
    node_fields,
    object_fields,
    parse_field_selector,
    pod_fields,
)
from common.labels import (
    BINARY_OPERATORS,
    DOES_NOT_EXIST,
    DOUBLE_EQUALS,
    EQUALS,
    EXISTS,
    GREATER_THAN,
    IN,
    LESS_THAN,
    NOT_EQUALS,
    NOT_IN,
    LabelSelector,
    Requirement,
    label_selector_causes,
    parse_int64,
    selector_from_labels,
    selector_from_object,
)

__all__ = [
    "FIELD_LABELS",
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "event_fields",
    "field_labels",
    "generic_fields",
    "label_selector_causes",
    "namespace_fields",
    "node_fields",
    "object_fields",
    "parse_field_selector",
    "parse_label_selector",
    "pod_fields",
    "selector_from_labels",
    "selector_from_object",
]


def _requirement_errors(key: str, operator: str, values: list[str], path: str) -> list[str]:
    """Kubernetes' ``NewRequirement`` checks, as field-error strings."""
    errs: list[str] = []
    key_msgs = names.is_qualified_name(key)
    if key_msgs:
        errs.append(
            f"{_child(path, 'key')}: Invalid value: {format_value(key)}: " + "; ".join(key_msgs)
        )
    vpath = _child(path, "values")
    shown = format_value(values)
    if operator in (IN, NOT_IN) and not values:
        errs.append(
            f"{vpath}: Invalid value: {shown}: for 'in', 'notin' operators, "
            "values set can't be empty"
        )
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS) and len(values) != 1:
        errs.append(
            f"{vpath}: Invalid value: {shown}: exact-match compatibility requires one single value"
        )
    elif operator in (GREATER_THAN, LESS_THAN):
        for i, v in enumerate(values):
            if parse_int64(v) is None:
                errs.append(
                    f"{vpath}[{i}]: Invalid value: {format_value(v)}: for 'Gt', 'Lt' "
                    "operators, the value must be an integer"
                )
    for i, v in enumerate(values):
        msgs = names.is_label_value(v)
        if msgs:
            errs.append(
                f"{vpath}[{i}][{key}]: Invalid value: {format_value(v)}: " + "; ".join(msgs)
            )
    return errs


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _aggregate(msgs: list[str]) -> str:
    unique = list(dict.fromkeys(msgs))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# ---------------------------------------------------------------------------------------------
# The string grammar (labels.Parse): a lexer and a recursive-descent parser.

_EOS, _IDENT, _ERROR = "EOS", "IDENT", "ERROR"
_TOKENS = {
    ")": ")",
    ",": ",",
    "!": "!",
    "==": "==",
    "=": "=",
    ">": ">",
    "in": "in",
    "<": "<",
    "!=": "!=",
    "notin": "notin",
    "(": "(",
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")


def _lex(text: str) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= end:
            items.append((_EOS, ""))
            return items
        if text[pos] in _SPECIAL:
            # Longest run of special characters that still spells a token ("!=", "==").
            buf, last = "", ""
            while pos < end and text[pos] in _SPECIAL:
                if buf + text[pos] in _TOKENS:
                    buf += text[pos]
                    last = buf
                    pos += 1
                elif last:
                    break
                else:
                    buf += text[pos]
                    pos += 1
            items.append((_TOKENS[last], last) if last else (_ERROR, buf))
            continue
        start = pos
        while pos < end and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        items.append((_TOKENS.get(word, _IDENT), word))


class _ParseError(Exception):
    pass


class _Parser:
    def __init__(self, text: str):
        self.items = _lex(text)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        return self._as_value(self.items[self.pos], values)

    def take(self, values: bool = True) -> tuple[str, str]:
        item = self.items[self.pos]
        self.pos += 1
        return self._as_value(item, values)

    @staticmethod
    def _as_value(item: tuple[str, str], values: bool) -> tuple[str, str]:
        # In value position "in" and "notin" are plain identifiers ("x in (in)").
        if values and item[0] in ("in", "notin"):
            return _IDENT, item[1]
        return item

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.peek()
            if tok == _EOS:
                return reqs
            if tok not in (_IDENT, "!"):
                raise _ParseError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except _ParseError as e:
                raise _ParseError(f"unable to parse requirement: {e}") from None
            tok, lit = self.take()
            if tok == _EOS:
                return reqs
            if tok != ",":
                raise _ParseError(f"found '{lit}', expected: ',' or 'end of string'")
            tok, lit = self.peek()
            if tok not in (_IDENT, "!"):
                raise _ParseError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        operator = ""
        tok, key = self.take()
        if tok == "!":
            operator = DOES_NOT_EXIST
            tok, key = self.take()
        if tok != _IDENT:
            raise _ParseError(f"found '{key}', expected: identifier")
        msgs = names.is_qualified_name(key)
        if msgs:
            raise _ParseError(f"<nil>: Invalid value: {format_value(key)}: {'; '.join(msgs)}")
        if self.peek()[0] in (_EOS, ",") and operator != DOES_NOT_EXIST:
            operator = EXISTS
        if operator in (EXISTS, DOES_NOT_EXIST):
            return Requirement(key, operator)
        operator = self.operator()
        values = self.set_values() if operator in (IN, NOT_IN) else self.exact_value()
        errs = _requirement_errors(key, operator, values, "")
        if errs:
            raise _ParseError(_aggregate(errs))
        return Requirement(key, operator, tuple(values))

    def operator(self) -> str:
        tok, lit = self.take(values=False)
        ops = {
            "in": IN,
            "=": EQUALS,
            "==": DOUBLE_EQUALS,
            ">": GREATER_THAN,
            "<": LESS_THAN,
            "notin": NOT_IN,
            "!=": NOT_EQUALS,
        }
        if tok not in ops:
            raise _ParseError(f"found '{lit}', expected: {', '.join(BINARY_OPERATORS)}")
        return ops[tok]

    def set_values(self) -> list[str]:
        tok, lit = self.take()
        if tok != "(":
            raise _ParseError(f"found '{lit}' expected: '('")
        tok, lit = self.peek()
        if tok == ")":
            self.take()
            return [""]
        if tok not in (_IDENT, ","):
            raise _ParseError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self.identifiers()
        if self.take()[0] != ")":
            raise _ParseError(f"found '{lit}', expected: ')'")
        return values

    def identifiers(self) -> list[str]:
        found: set[str] = set()
        while True:
            tok, lit = self.take()
            if tok == _IDENT:
                found.add(lit)
                tok2, lit2 = self.peek()
                if tok2 == ")":
                    return sorted(found)
                if tok2 != ",":
                    raise _ParseError(f"found '{lit2}', expected: ',' or ')'")
            elif tok == ",":
                if not found:
                    found.add("")  # "(,"
                tok2 = self.peek()[0]
                if tok2 == ")":
                    found.add("")  # ",)"
                    return sorted(found)
                if tok2 == ",":
                    found.add("")  # ",,"
            else:
                raise _ParseError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> list[str]:
        if self.peek()[0] in (_EOS, ","):
            return [""]
        tok, lit = self.take()
        if tok != _IDENT:
            raise _ParseError(f"found '{lit}', expected: identifier")
        return [lit]


def parse_label_selector(text: str) -> LabelSelector:
    """Parse ``app=web,tier!=db``, ``env in (a,b)``, ``gpu``, ``!gpu``; ``""`` selects everything.

    Raises errors.BadRequestError with Kubernetes' parser message on bad input.
    """
    try:
        return LabelSelector(_Parser(text).parse())
    except _ParseError as e:
        raise errors.BadRequestError(str(e)) from None
