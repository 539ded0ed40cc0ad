"""Reading manifests as kubectl does before it sends anything: files, directories and stdin holding
multi-document YAML or JSON, with kubectl's client-side errors (parse errors with go-yaml's line
numbers, ``apiVersion not set``, ``resource mapping not found``), plus the ``last-applied``
annotation of client-side apply. Pure apart from ``expand_paths``/``read_manifests`` (file reads).
"""

from __future__ import annotations

import copy
import difflib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from common import yamlsafe
from common.resources import ResourceType, by_kind
from common.yamlcheck import DuplicateKeyError, syntax_hint, unknown_top_level

STDIN = "-"
STDIN_SOURCE = "STDIN"  # how kubectl names stdin in its messages
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MANIFEST_EXTENSIONS = (".yaml", ".yml", ".json")
_VALIDATE_HINT = "if you choose to ignore these errors, turn validation off with --validate=false"


class ManifestError(Exception):
    """A manifest kubectl would refuse before sending it; ``str()`` is kubectl's text without the
    leading ``error: ``, ``hint`` an optional second line."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Manifest:
    """One object read from ``source`` (a file name, or ``STDIN``)."""

    obj: dict[str, Any]
    source: str

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name") or "")

    @property
    def namespace(self) -> str:
        return str((self.obj.get("metadata") or {}).get("namespace") or "")


# -- parsing --------------------------------------------------------------------------------------


def _yaml_error(err: yaml.YAMLError, source: str, text: str = "") -> ManifestError:
    """go-yaml's ``yaml: line N: <problem>``, with the line chosen as go-yaml's ``parser.fail``
    chooses it (the context mark before the problem mark; +1 only for scanner errors), plus a hint
    when the typo behind it is recognisable; go-yaml's strict message for a duplicate key."""
    prefix = f"error parsing {source}: error converting YAML to JSON: yaml: "
    if isinstance(err, DuplicateKeyError):
        return ManifestError(f"{prefix}unmarshal errors:\n  {err}")
    problem = getattr(err, "problem", None) or str(err)
    context_mark = getattr(err, "context_mark", None)
    problem_mark = getattr(err, "problem_mark", None)
    scanner = isinstance(err, yaml.scanner.ScannerError)
    line = 0
    for mark in (context_mark, problem_mark):
        if mark is not None and mark.line != 0:
            line = mark.line + (1 if scanner else 0)
            break
    where = f"line {line}: " if line else ""
    hint = syntax_hint(text, (problem_mark.line + 1) if problem_mark is not None else line)
    return ManifestError(f"{prefix}{where}{problem}", hint)


def _parse_json_stream(text: str, source: str) -> tuple[list[Any], ManifestError | None]:
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return docs, None
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            return docs, ManifestError(
                f"error parsing {source}: json: line {e.lineno} column {e.colno}: {e.msg}"
            )
        docs.append(doc)


def parse_documents(text: str, source: str) -> tuple[list[Any], ManifestError | None]:
    """The documents of a YAML (``---``-separated) or JSON stream, without empty ones, up to the
    first syntax error (returned too; like kubectl, later documents of that file are not read)."""
    if text.lstrip().startswith("{"):
        return _parse_json_stream(text, source)
    docs: list[Any] = []
    try:
        for doc in yamlsafe.iter_documents(text):
            if doc.duplicates:
                first = doc.duplicates[0]
                raise DuplicateKeyError(first.key, first.line)
            if doc.value is not None:
                docs.append(doc.value)
    except yaml.YAMLError as e:
        return docs, _yaml_error(e, source, text)
    return docs, None


def _missing_hint(obj: dict[str, Any], missing: list[str]) -> str:
    unknown = [k for k in obj if isinstance(k, str) and k not in _KNOWN_TOP_LEVEL]
    hints = []
    for field in missing:
        close = difflib.get_close_matches(field, unknown, n=1, cutoff=0.6)
        if close:
            hints.append(f'unknown field "{close[0]}" (did you mean "{field}"?)')
    return "; ".join(hints)


_KNOWN_TOP_LEVEL = frozenset(
    {"apiVersion", "kind", "metadata", "spec", "status", "data", "binaryData", "stringData",
     "type", "immutable", "items", "rules", "subjects", "roleRef"}
)  # fmt: skip


def check_document(doc: Any, source: str, validate: bool = True) -> dict[str, Any]:
    """The document as an object, or kubectl's client-side error for it."""
    if not isinstance(doc, dict):
        kind = {list: "array", str: "string", bool: "bool"}.get(type(doc), "number")
        raise ManifestError(
            f'unable to decode "{source}": json: cannot unmarshal {kind} into Go value of type '
            "map[string]interface {}"
        )
    missing = [f for f in ("apiVersion", "kind") if not doc.get(f)]
    if missing and validate:
        what = [f"{f} not set" for f in missing]
        text = what[0] if len(what) == 1 else "[" + ", ".join(what) + "]"
        raise ManifestError(
            f'error validating "{source}": error validating data: {text}; {_VALIDATE_HINT}',
            _missing_hint(doc, missing),
        )
    if validate:
        _check_top_level(doc, source)
    if not doc.get("kind"):
        compact = json.dumps(doc, separators=(",", ":"))
        raise ManifestError(
            f"unable to decode \"{source}\": Object 'Kind' is missing in '{compact}'"
        )
    return doc


def _check_top_level(doc: dict[str, Any], source: str) -> None:
    """Old kubectl's client-side schema error for fields a known kind does not have."""
    schema, unknown, hint = unknown_top_level(doc)
    if unknown:
        kind = doc.get("kind")
        found = [f'ValidationError({kind}): unknown field "{f}" in {schema}' for f in unknown]
        text = found[0] if len(found) == 1 else "[" + ", ".join(found) + "]"
        raise ManifestError(
            f'error validating "{source}": error validating data: {text}; {_VALIDATE_HINT}', hint
        )


def resource_type(obj: dict[str, Any], source: str) -> ResourceType:
    """The served resource type of a manifest, or kubectl's ``resource mapping not found``."""
    api_version, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
    rt = by_kind(api_version, kind)
    if rt is None:
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
        raise ManifestError(
            f'resource mapping not found for name: "{meta.get("name", "")}" namespace: '
            f'"{meta.get("namespace", "")}" from "{source}": no matches for kind "{kind}" in '
            f'version "{api_version}"\nensure CRDs are installed first'
        )
    return rt


def documents_to_manifests(
    docs: Sequence[Any], source: str, validate: bool = True
) -> tuple[list[Manifest], list[ManifestError]]:
    """Check every document (a ``List`` stands for its items); good ones and errors apart."""
    manifests: list[Manifest] = []
    errors: list[ManifestError] = []
    for doc in docs:
        try:
            obj = check_document(doc, source, validate)
            if obj.get("kind") == "List" and isinstance(obj.get("items"), list):
                more, errs = documents_to_manifests(obj["items"], source, validate)
                manifests.extend(more)
                errors.extend(errs)
                continue
            resource_type(obj, source)
        except ManifestError as e:
            errors.append(e)
            continue
        manifests.append(Manifest(obj, source))
    return manifests, errors


# -- files ----------------------------------------------------------------------------------------


def expand_paths(paths: Sequence[str]) -> list[str]:
    """Each ``-f`` argument as files: a directory gives its manifest files, sorted by name."""
    files: list[str] = []
    for path in paths:
        if path == STDIN:
            files.append(path)
        elif os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.endswith(MANIFEST_EXTENSIONS))
            files.extend(os.path.join(path, n) for n in names)
        elif os.path.exists(path):
            files.append(path)
        else:
            raise ManifestError(f'the path "{path}" does not exist')
    return files


def read_manifests(
    paths: Sequence[str], read_stdin: Callable[[], str], validate: bool = True
) -> tuple[list[Manifest], list[ManifestError]]:
    """All objects of the ``-f`` arguments, in order, and every client-side error found."""
    manifests: list[Manifest] = []
    errors: list[ManifestError] = []
    for path in expand_paths(paths):
        source = STDIN_SOURCE if path == STDIN else path
        if path == STDIN:
            text = read_stdin()
        else:
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except (OSError, UnicodeDecodeError) as e:
                errors.append(ManifestError(f"error reading {path}: {e}"))
                continue
        docs, parse_error = parse_documents(text, source)
        good, bad = documents_to_manifests(docs, source, validate)
        manifests.extend(good)
        errors.extend(bad)
        if parse_error is not None:
            errors.append(parse_error)
    return manifests, errors


# -- client-side apply ---------------------------------------------------------------------------


def last_applied(obj: dict[str, Any]) -> str:
    """The ``last-applied-configuration`` value of ``obj``: compact JSON with sorted keys, without
    the annotation itself (an empty ``annotations`` map stays, as kubectl writes it), and a final
    newline."""
    clean = copy.deepcopy(obj)
    meta = clean.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(LAST_APPLIED, None)
    meta["annotations"] = annotations
    return json.dumps(clean, sort_keys=True, separators=(",", ":")) + "\n"


def with_last_applied(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` carrying its own ``last-applied-configuration`` annotation."""
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}), LAST_APPLIED: last_applied(obj)}
    return out
