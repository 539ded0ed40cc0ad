"""Content negotiation of the API server's answers, as kube-apiserver does it
(``endpoints/handlers/negotiation``): the ``Accept`` clauses are tried best first; a clause is
taken when its media type is served and its parameters ask for a transformation the endpoint can
do (``as=Table;v=v1|v1beta1;g=meta.k8s.io`` where a Table exists); a clause that cannot be met is
skipped, so kubectl's ``...as=Table...,application/json`` falls back to plain JSON; when no clause
is left the answer is 406 NotAcceptable. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from common import errors

# The media types answers are served in (kube-apiserver also serves protobuf and CBOR).
SERVED = ("application/json", "application/yaml")
NOT_ACCEPTABLE = "only the following media types are accepted: " + ", ".join(SERVED)


@dataclass(frozen=True)
class MediaType:
    """What to answer in: ``application/json`` or ``application/yaml``, and whether as a Table
    (``table_version`` ``v1`` or ``v1beta1``, empty for the object itself)."""

    media: str = SERVED[0]
    table_version: str = ""


@dataclass(frozen=True)
class _Clause:
    type: str
    subtype: str
    q: float
    params: dict[str, str]


def _parse(header: str) -> list[_Clause]:
    clauses = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        kind, _, sub = fields[0].partition("/")
        params = {}
        for f in fields[1:]:
            key, _, value = f.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 0.0
        if kind:
            clauses.append(_Clause(kind.strip().lower(), sub.strip().lower() or "*", q, params))
    # Best first; among equals a concrete type before a wildcard, then the client's order.
    return sorted(clauses, key=lambda c: (-c.q, c.type == "*", c.subtype == "*"))


def _matches(clause: _Clause, media: str) -> bool:
    kind, sub = media.split("/")
    return (clause.type, clause.subtype) in ((kind, sub), (kind, "*"), ("*", "*"))


def _accept(clause: _Clause, media: str, table_ok: bool) -> MediaType | None:
    """The answer this clause asks for, or None when the endpoint cannot give it."""
    p = clause.params
    if p.get("stream") not in (None, "", "watch") or p.get("sv"):
        return None
    if not any(k in p for k in ("as", "g", "v")):
        return MediaType(media)
    if p.get("as") == "Table" and p.get("g") == "meta.k8s.io" and p.get("v") in ("v1", "v1beta1"):
        return MediaType(media, p["v"]) if table_ok else None
    return None


def negotiate(accept: str, table_ok: bool) -> MediaType:
    """The media type to answer in for an ``Accept`` header; ``table_ok`` says whether this
    endpoint can give a Table (a resource with a printer; not ``scale`` or ``binding``)."""
    if not accept.strip():
        return MediaType()
    for clause in _parse(accept):
        if clause.q <= 0:
            continue
        for media in SERVED:
            if _matches(clause, media):
                chosen = _accept(clause, media, table_ok)
                if chosen is not None:
                    return chosen
    raise errors.NotAcceptableError(NOT_ACCEPTABLE)
