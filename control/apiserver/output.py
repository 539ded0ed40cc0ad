"""The API server's answers in the form the request negotiated: the object itself as JSON or
YAML, or a ``Table`` of it (``control.apiserver.tables``) with the rows' ``object`` chosen by the
``includeObject`` query parameter. Watches get one Table per event, with the column definitions
only in the first, as kube-apiserver's watch encoder sends them."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from flask import Response, request

from common import fastjson
from common.resources import ResourceType
from control.apiserver import negotiation, tables
from control.apiserver.negotiation import MediaType
from control.registry import recorder

# Subresources answered with the resource's own object, which a Table can show.
TABLE_SUBRESOURCES = ("", "status")


# A list of more objects than this is written in pieces of this many (some 1.5 MB of pods),
# each joined as it is written, from the watch cache's texts.
LIST_PIECE = 500


def _long_list(body: Any) -> bool:
    return isinstance(body, dict) and len(body.get("items") or ()) > LIST_PIECE


def _cooperating(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The pieces of a long list, with a pause after each for whatever else its process has to
    do (under the gevent worker, ``time.sleep(0)`` lets the other greenlets run): a list of
    10,000 pods takes its worker some 100 ms, which a GET must not wait out behind it."""
    for chunk in chunks:
        yield chunk
        time.sleep(0)
    yield b"\n"


@dataclass
class Output:
    rt: ResourceType
    media: MediaType = field(default_factory=MediaType)
    include: str = "Metadata"
    # A watch sends the column definitions once, in its first event.
    headers_sent: bool = False

    @property
    def verbatim(self) -> bool:
        """Whether the answer is the object itself as JSON (which may hold encoded parts written
        as they are, ``fastjson.Texts``)."""
        return not self.media.table_version and self.media.media != "application/yaml"

    def transform(self, result: Any) -> Any:
        """The answer's body: ``result`` itself, or its Table (a ``Status`` is never converted)."""
        if not self.media.table_version or not isinstance(result, dict):
            return result
        if result.get("kind") == "Status":
            return result
        table = tables.to_table(
            self.rt,
            result,
            dt.datetime.now(dt.UTC),
            version=self.media.table_version,
            include=self.include,
            headers=not self.headers_sent,
        )
        self.headers_sent = True
        return table

    def respond(self, result: Any, status: int = 200) -> Response:
        body = self.transform(result)
        if self.media.media == "application/yaml":
            text = yaml.safe_dump(body, sort_keys=False, default_flow_style=False)
            return self._warned(Response(text, status=status, mimetype="application/yaml"))
        streamed = fastjson.pieces(body, LIST_PIECE) if _long_list(body) else None
        if streamed is not None:
            length, chunks = streamed
            resp = Response(_cooperating(chunks), status=status, mimetype="application/json")
            resp.headers["Content-Length"] = str(length + 1)
            return self._warned(resp)
        text = fastjson.dumps(body) + "\n"
        return self._warned(Response(text, status=status, mimetype="application/json"))

    @staticmethod
    def _warned(resp: Response) -> Response:
        """The request's recorded warnings as ``Warning: 299 - "..."`` headers."""
        for message in recorder.current():
            resp.headers.add("Warning", f"299 - {json.dumps(message)}")
        return resp

    def events(self, events: Iterator[Any]) -> Iterator[Mapping[str, Any] | None]:
        """Watch events with their ``object`` transformed (``ERROR`` Status objects are not)."""
        for event in events:
            if event is None or not self.media.table_version or event["type"] == "BOOKMARK":
                yield event
            else:
                yield {**event, "object": self.transform(event["object"])}


def negotiated(rt: ResourceType, sub: str) -> Output:
    """The Output of the current request: its ``Accept`` header and ``includeObject``."""
    table_ok = sub in TABLE_SUBRESOURCES
    media = negotiation.negotiate(request.headers.get("Accept", ""), table_ok)
    include = "Metadata"
    if media.table_version:
        include = tables.check_include_object(request.args.get("includeObject", ""))
    return Output(rt, media, include)
