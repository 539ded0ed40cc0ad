"""SPDY/3 frames against the layouts of the spec (draft-mbelshe-httpbis-spdy-00, section 2)."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest

from common import spdy


def reader(data: bytes):  # type: ignore[no-untyped-def]
    pos = 0

    def read_exactly(n: int) -> bytes:
        nonlocal pos
        chunk = data[pos : pos + n]
        pos += len(chunk)
        return chunk

    return read_exactly


def test_the_dictionary_is_spdy3s() -> None:
    assert len(spdy.DICTIONARY) == 1423
    digest = "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == digest
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert b"\x00\x00\x00\x06200 OK" in spdy.DICTIONARY


@pytest.mark.parametrize(
    ("frame", "wire"),
    [
        (spdy.Ping(1), "80030006 00000004 00000001"),
        (spdy.RstStream(5, spdy.CANCEL), "80030003 00000008 00000005 00000005"),
        (spdy.GoAway(7), "80030007 00000008 00000007 00000000"),
        (spdy.WindowUpdate(3, 65536), "80030009 00000008 00000003 00010000"),
        (spdy.Data(1, b"abc"), "00000001 00000003 616263"),
        (spdy.Data(3, fin=True), "00000003 01000000"),
        (spdy.Settings(((0, 7, 65536),)), "80030004 0000000c 00000001 00000007 00010000"),
    ],
)
def test_frames_have_the_specs_layout(frame: spdy.Frame, wire: str) -> None:
    data = bytes.fromhex(wire.replace(" ", ""))
    assert spdy.Framer().encode(frame) == data
    assert spdy.Framer().read(reader(data)) == frame


def test_a_syn_stream_as_a_client_compresses_it() -> None:
    """Built by hand: header block, deflated with the dictionary and a sync flush (as Go's
    zlib.NewWriterLevelDict + Flush), behind the 10 bytes of ids, priority and slot."""
    block = struct.pack(">I", 3)
    for name, value in (("port", "80"), ("requestid", "0"), ("streamtype", "error")):
        block += struct.pack(">I", len(name)) + name.encode()
        block += struct.pack(">I", len(value)) + value.encode()
    deflate = zlib.compressobj(9, zdict=spdy.DICTIONARY)
    body = struct.pack(">IIBB", 1, 0, 0, 0) + deflate.compress(block)
    body += deflate.flush(zlib.Z_SYNC_FLUSH)
    wire = struct.pack(">HHI", 0x8003, 1, len(body)) + body
    frame = spdy.Framer().read(reader(wire))
    assert frame == spdy.SynStream(1, {"port": ["80"], "requestid": ["0"], "streamtype": ["error"]})
    assert isinstance(frame, spdy.SynStream)
    assert spdy.header(frame.headers, "streamType") == "error"
    assert spdy.header(frame.headers, "missing") == ""


def test_header_blocks_share_one_zlib_stream_per_direction() -> None:
    client, server = spdy.Framer(), spdy.Framer()
    frames = [
        spdy.SynStream(1, {"streamtype": ["error"], "port": ["80"]}),
        spdy.SynStream(3, {"streamtype": ["data"], "port": ["80"]}, priority=2),
        spdy.SynReply(1, {}, fin=True),
        spdy.HeadersFrame(3, {"a": ["1", "2"]}),
    ]
    wire = b"".join(client.encode(f) for f in frames)
    read = reader(wire)
    assert [server.read(read) for _ in frames] == frames
    assert server.read(read) is None
    # The second block leans on the first: alone it does not inflate.
    second = client.encode(frames[1])
    with pytest.raises(spdy.FrameError):
        spdy.Framer().read(reader(second))


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        ("80020006 00000004 00000001", "unsupported SPDY version 2"),
        ("8003", "cut inside a frame header"),
        ("00000001 00000005 6162", "cut inside a frame"),
        ("80030001 0000000e 00000001 00000000 0000 deadbeef", "does not inflate"),
        ("80030003 00000004 00000001", "too short"),
    ],
)
def test_what_is_not_spdy_is_a_frame_error(wire: str, why: str) -> None:
    with pytest.raises(spdy.FrameError, match=why):
        spdy.Framer().read(reader(bytes.fromhex(wire.replace(" ", ""))))


def test_header_blocks_are_checked() -> None:
    twice = struct.pack(">I", 2) + (struct.pack(">I", 1) + b"a" + struct.pack(">I", 0)) * 2
    with pytest.raises(spdy.FrameError, match="duplicate"):
        spdy.decode_header_block(twice)
    with pytest.raises(spdy.FrameError, match="cut short"):
        spdy.decode_header_block(struct.pack(">II", 1, 50) + b"name")
    assert spdy.decode_header_block(spdy.encode_header_block({"Port": ["1"]})) == {"port": ["1"]}


def test_unknown_control_frames_are_skipped() -> None:
    wire = bytes.fromhex("8003000f 00000002 abcd 80030006 00000004 00000009".replace(" ", ""))
    read, framer = reader(wire), spdy.Framer()
    assert framer.read(read) == spdy.Unknown(15)
    assert framer.read(read) == spdy.Ping(9)
