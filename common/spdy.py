"""SPDY/3.1 framing as Kubernetes' streams speak it (moby/spdystream, kubectl port-forward). Pure:
frames to bytes and back, with the connection's two zlib contexts for header blocks.

A control frame is ``1 | version u15 | type u16 | flags u8 | length u24 | body``; a data frame
``0 | stream id u31 | flags u8 | length u24 | data``. Header blocks (``count u32`` then
``len u32 | name | len u32 | value`` pairs, names lower case, several values joined by NUL) are
compressed by one zlib stream per direction, primed with SPDY/3's dictionary and sync-flushed
after every block. spdystream does no flow control: WINDOW_UPDATE and SETTINGS are parsed and
may be ignored.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
FLAG_FIN = 0x01
# RST_STREAM status codes (SPDY/3 section 2.6.3).
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, CANCEL, INTERNAL_ERROR = 1, 2, 3, 5, 6
# GOAWAY status codes (section 2.6.6).
GOAWAY_OK, GOAWAY_PROTOCOL_ERROR, GOAWAY_INTERNAL_ERROR = 0, 1, 11
# A data frame's length field is 24 bits; senders here cut data into smaller pieces anyway.
MAX_LENGTH = 0xFFFFFF
# A header block larger than this once inflated is a protocol error (kubectl's are ~100 bytes).
MAX_HEADER_BLOCK = 256 * 1024
_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base "
    "content-encoding content-language content-length content-location content-md5 "
    "content-range content-type date etag expect expires from host if-match if-modified-since "
    "if-none-match if-range if-unmodified-since last-modified location max-forwards pragma "
    "proxy-authenticate proxy-authorization range referer retry-after server te trailer "
    "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status "
    "200_OK version HTTP/1.1 url public set-cookie keep-alive origin"
)
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
    "Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
    "Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, "
    "Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,"
    "application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch"
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
# SPDY/3 section 2.6.10.1: length-prefixed common words, then a run of common strings.
DICTIONARY = (
    b"".join(struct.pack(">I", len(w)) + w.replace("_", " ").encode() for w in _WORDS.split())
    + _TAIL.encode()
)

Headers = dict[str, list[str]]


class FrameError(Exception):
    """The peer sent something that is not SPDY/3 (the session ends with a GOAWAY)."""


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes = b""
    fin: bool = False


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False
    associated_id: int = 0
    priority: int = 0


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Ping:
    ping_id: int


@dataclass(frozen=True)
class GoAway:
    last_stream_id: int
    status: int = GOAWAY_OK


@dataclass(frozen=True)
class Settings:
    entries: tuple[tuple[int, int, int], ...] = ()  # (flags, id, value)


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


@dataclass(frozen=True)
class Unknown:
    """A control frame of a type SPDY/3 does not define: skipped, as the spec asks."""

    frame_type: int


Frame = (
    Data | SynStream | SynReply | HeadersFrame | RstStream | Ping | GoAway | Settings
    | WindowUpdate | Unknown
)  # fmt: skip


def header(headers: Headers, name: str) -> str:
    """The first value of a header (names are compared in lower case), or ``""``."""
    values = headers.get(name.lower()) or [""]
    return values[0]


def encode_header_block(headers: Headers) -> bytes:
    out = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        key, value = name.lower().encode(), "\0".join(values).encode()
        out += [struct.pack(">I", len(key)), key, struct.pack(">I", len(value)), value]
    return b"".join(out)


def decode_header_block(block: bytes) -> Headers:
    try:
        (count,) = struct.unpack_from(">I", block)
        pos, headers = 4, {}
        for _ in range(count):
            name, pos = _string(block, pos)
            value, pos = _string(block, pos)
            key = name.decode().lower()
            if key in headers:
                raise FrameError(f"duplicate header {key!r}")
            headers[key] = value.decode().split("\0")
    except (struct.error, UnicodeDecodeError) as e:
        raise FrameError(f"malformed header block: {e}") from e
    return headers


def _string(block: bytes, pos: int) -> tuple[bytes, int]:
    (length,) = struct.unpack_from(">I", block, pos)
    end = pos + 4 + length
    if end > len(block):
        raise FrameError("header block cut short")
    return block[pos + 4 : end], end


class Framer:
    """One connection's end: ``encode`` what it sends, ``read`` what it receives (each direction
    keeps its own zlib context, so frames must be encoded and read in connection order)."""

    def __init__(self) -> None:
        level, strategy = zlib.Z_BEST_COMPRESSION, zlib.Z_DEFAULT_STRATEGY  # as spdystream
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, 15, 8, strategy, DICTIONARY)
        self._inflate = zlib.decompressobj(15, zdict=DICTIONARY)

    # -- sending -------------------------------------------------------------------------------

    def _compress(self, headers: Headers) -> bytes:
        block = encode_header_block(headers)
        return self._deflate.compress(block) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, frame: Frame) -> bytes:
        if isinstance(frame, Data):
            flags = FLAG_FIN if frame.fin else 0
            head = struct.pack(">II", frame.stream_id & 0x7FFFFFFF, flags << 24 | len(frame.data))
            return head + frame.data
        frame_type, flags, body = self._control_body(frame)
        return _control(frame_type, flags, body)

    def _control_body(self, frame: Frame) -> tuple[int, int, bytes]:
        fin = FLAG_FIN if getattr(frame, "fin", False) else 0
        if isinstance(frame, SynStream):
            ids = struct.pack(">IIBB", frame.stream_id, frame.associated_id, frame.priority << 5, 0)
            return SYN_STREAM, fin, ids + self._compress(frame.headers)
        if isinstance(frame, SynReply | HeadersFrame):
            kind = SYN_REPLY if isinstance(frame, SynReply) else HEADERS
            return kind, fin, struct.pack(">I", frame.stream_id) + self._compress(frame.headers)
        if isinstance(frame, RstStream):
            return RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status)
        if isinstance(frame, Ping):
            return PING, 0, struct.pack(">I", frame.ping_id)
        if isinstance(frame, GoAway):
            return GOAWAY, 0, struct.pack(">II", frame.last_stream_id, frame.status)
        if isinstance(frame, WindowUpdate):
            return WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta)
        if isinstance(frame, Settings):
            entries = b"".join(struct.pack(">II", f << 24 | i, v) for f, i, v in frame.entries)
            return SETTINGS, 0, struct.pack(">I", len(frame.entries)) + entries
        raise ValueError(f"cannot encode {frame!r}")

    # -- receiving -----------------------------------------------------------------------------

    def read(self, read_exactly: Callable[[int], bytes]) -> Frame | None:
        """The next frame from ``read_exactly(n)`` (fewer bytes only at the end of the stream);
        ``None`` when the stream ends cleanly between frames."""
        head = read_exactly(8)
        if not head:
            return None
        if len(head) < 8:
            raise FrameError("stream cut inside a frame header")
        first, second = struct.unpack(">II", head)
        flags, length = second >> 24, second & MAX_LENGTH
        body = read_exactly(length) if length else b""
        if len(body) < length:
            raise FrameError("stream cut inside a frame")
        if not first & 0x80000000:
            return Data(first & 0x7FFFFFFF, body, bool(flags & FLAG_FIN))
        version, frame_type = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise FrameError(f"unsupported SPDY version {version}")
        try:
            return self._control(frame_type, flags, body)
        except struct.error as e:
            raise FrameError(f"control frame {frame_type} too short: {e}") from e

    def _headers(self, compressed: bytes) -> Headers:
        try:
            block = self._inflate.decompress(compressed, MAX_HEADER_BLOCK)
        except zlib.error as e:
            raise FrameError(f"header block does not inflate: {e}") from e
        if self._inflate.unconsumed_tail:
            raise FrameError(f"header block larger than {MAX_HEADER_BLOCK} bytes")
        return decode_header_block(block)

    def _control(self, frame_type: int, flags: int, body: bytes) -> Frame:
        fin = bool(flags & FLAG_FIN)
        if frame_type == SYN_STREAM:
            stream_id, associated, priority = struct.unpack_from(">IIB", body)
            headers = self._headers(body[10:])
            return SynStream(stream_id & 0x7FFFFFFF, headers, fin, associated, priority >> 5)
        if frame_type in (SYN_REPLY, HEADERS):
            (stream_id,) = struct.unpack_from(">I", body)
            kind = SynReply if frame_type == SYN_REPLY else HeadersFrame
            return kind(stream_id & 0x7FFFFFFF, self._headers(body[4:]), fin)
        if frame_type in (RST_STREAM, GOAWAY, WINDOW_UPDATE):
            first, second = struct.unpack_from(">II", body)
            if frame_type == RST_STREAM:
                return RstStream(first & 0x7FFFFFFF, second)
            if frame_type == GOAWAY:
                return GoAway(first & 0x7FFFFFFF, second)
            return WindowUpdate(first & 0x7FFFFFFF, second & 0x7FFFFFFF)
        if frame_type == PING:
            return Ping(struct.unpack_from(">I", body)[0])
        if frame_type == SETTINGS:
            (count,) = struct.unpack_from(">I", body)
            pairs = [struct.unpack_from(">II", body, 4 + 8 * i) for i in range(count)]
            return Settings(tuple((k >> 24, k & 0xFFFFFF, v) for k, v in pairs))
        return Unknown(frame_type)


def _control(frame_type: int, flags: int, body: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, frame_type, flags << 24 | len(body)) + body
