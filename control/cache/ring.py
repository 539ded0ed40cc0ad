"""The watch cache's ring of recent events, as kube-apiserver's ``watchCache`` keeps it: each event
with its object, the object before it (both as encoded JSON) and the label/field values of both,
so a watch resuming from a revision is served from memory; its capacity follows the traffic
(doubling while the oldest event is younger than the history window, halving when a quarter of it
is older). Past the newest ``PACKED_AFTER`` events, an event's texts are kept compressed: only a
watch resuming from that far back reads them again. Pure: the caller passes the clock's reading.
"""

from __future__ import annotations

import bisect
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from common import errors, fastjson

# kube-apiserver's defaultLowerBoundCapacity and defaultUpperBoundCapacity (100 * 1024).
LOWER_CAPACITY = 100
UPPER_CAPACITY = 100 * 1024
# eventFreshDuration: events younger than this are kept if the capacity allows it.
WINDOW_SECONDS = 75.0
# Entries this far behind the newest drop their encoded events (every watcher has them queued, its
# buffer is no longer, or has sent them: a watch replaying older ones encodes anew) and keep their
# texts compressed (zlib's fastest level: a Running pod's 4 KB in 1.4 KB).
PACKED_AFTER = 1024
# The key each packed text was last packed under, with its compressed form: the text before the
# key's next change is that same text, compressed once for both.
Packed = dict[str, tuple[bytes, bytes]]


class Delivered(Mapping[str, Any]):
    """One watch event (``{"type", "object"}``) shared by every watcher it goes to, holding its
    object as encoded JSON, so that it is encoded once whatever the number of watchers
    (kube-apiserver's cachingObject). Read-only; ``["object"]`` decodes a new copy each time."""

    __slots__ = ("_line", "raw", "type")

    def __init__(self, type: str, raw: bytes) -> None:
        self.type = type
        self.raw = raw
        self._line: bytes | None = None

    def __getitem__(self, key: str) -> Any:
        if key == "type":
            return self.type
        if key == "object":
            return fastjson.loads(self.raw)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(("type", "object"))

    def __len__(self) -> int:
        return 2

    def line(self) -> bytes:
        """The event as one newline-terminated JSON line, ``fastjson.dumps`` of the event
        (computed once; a race computes it twice, to the same text)."""
        if self._line is None:
            self._line = b'{"type":"%s","object":%s}\n' % (self.type.encode(), self.raw)
        return self._line


@dataclass(slots=True)
class Entry:
    """One change of one object, its object as encoded JSON. ``prev`` is the object before it
    (None for a creation); when ``prev_full`` is false it holds only what selectors look at (an
    event read from the store's history before the cache had the object)."""

    type: str
    rv: int
    key: str
    namespace: str
    obj: bytes
    labels: dict[str, str]
    fields: dict[str, str]
    prev: bytes | None = None
    prev_labels: dict[str, str] = field(default_factory=dict)
    prev_fields: dict[str, str] = field(default_factory=dict)
    prev_full: bool = True
    recorded: float = 0.0
    packed: bool = False
    _shared: dict[str, Delivered] | None = field(default=None, repr=False)

    def deliver(self, etype: str) -> Delivered:
        """The event a watcher gets: ``etype`` with the new object, or DELETED with the previous
        object at this event's revision when the object left the watcher's selection."""
        if self._shared is None:
            self._shared = {}
        found = self._shared.get(etype)
        if found is None:
            found = Delivered(etype, self._object_for(etype))
            self._shared[etype] = found
        return found

    def new_text(self) -> bytes:
        """The object after the change, as encoded JSON."""
        return zlib.decompress(self.obj) if self.packed else self.obj

    def prev_text(self) -> bytes | None:
        """The object before the change, as encoded JSON (None for a creation)."""
        if self.prev is None or not self.packed:
            return self.prev
        return zlib.decompress(self.prev)

    def pack(self, last: Packed) -> None:
        """Drop the encoded events and compress the texts; the text before the change is the one
        ``last`` packed for the key when it is that very text."""
        self._shared = None
        if self.packed:
            return
        if self.prev is not None:
            found = last.get(self.key)
            same = found is not None and found[0] is self.prev
            self.prev = found[1] if found is not None and same else zlib.compress(self.prev, 1)
        text = self.obj
        self.obj = zlib.compress(text, 1)
        self.packed = True
        if self.type == "DELETED":
            last.pop(self.key, None)
        else:
            last[self.key] = (text, self.obj)

    def _object_for(self, etype: str) -> bytes:
        prev = self.prev_text()
        if etype != "DELETED" or self.type == "DELETED" or prev is None or not self.prev_full:
            return self.new_text()
        before = fastjson.loads(prev)
        before["metadata"] = {**(before.get("metadata") or {}), "resourceVersion": str(self.rv)}
        return fastjson.dumpb(before)

    def indexed_values(self, field: str) -> tuple[str, str]:
        """The indexed ``field`` (``spec.nodeName`` for pods) after and before the change (empty
        when none; a creation has no before, so both are the new one)."""
        new = self.fields.get(field, "")
        return new, new if self.prev is None else self.prev_fields.get(field, "")


def too_old(since: int, oldest: int) -> errors.GoneError:
    return errors.GoneError(f"too old resource version: {since} ({oldest})")


class Ring:
    """Events in revision order; ``floor`` is the revision a watch may resume from at the
    earliest (every change after it is here). The capacity stays within ``lower`` and
    ``upper``; ``upper`` wins when it is the smaller."""

    def __init__(
        self, floor: int = 0, *, lower: int = LOWER_CAPACITY, upper: int = UPPER_CAPACITY
    ) -> None:
        self.upper = upper
        self.lower = min(lower, upper)
        self.capacity = self.lower
        self.floor = floor
        self._items: list[Entry] = []
        self._start = 0
        self._packed: Packed = {}

    def __len__(self) -> int:
        return len(self._items) - self._start

    def newest(self) -> int:
        return self._items[-1].rv if len(self) else self.floor

    def append(self, entry: Entry) -> None:
        if entry.rv <= self.newest():
            raise ValueError(f"event {entry.rv} is not after {self.newest()}")
        self._resize(entry.recorded)
        while len(self) >= self.capacity:
            self._evict()
        self._items.append(entry)
        if len(self) > PACKED_AFTER:
            self._items[-PACKED_AFTER - 1].pack(self._packed)

    def since(self, rv: int) -> list[Entry]:
        """Every event after ``rv``; 410 when some of them have left the ring."""
        if rv < self.floor:
            raise too_old(rv, self.floor)
        i = bisect.bisect_right(self._items, rv, lo=self._start, key=lambda e: e.rv)
        return self._items[i:]

    def _resize(self, now: float) -> None:
        """watchCache.resizeCacheLocked: grow while full of fresh events, shrink when a quarter
        of them is older than the window."""
        if len(self) < self.capacity:
            return
        oldest = self._items[self._start]
        if now - oldest.recorded < WINDOW_SECONDS and self.capacity < self.upper:
            self.capacity = min(self.capacity * 2, self.upper)
            return
        q = self.capacity // 4
        quarter = self._items[len(self._items) - q if q else self._start]
        if now - quarter.recorded > WINDOW_SECONDS and self.capacity > self.lower:
            self.capacity = max(self.capacity // 2, self.lower)

    def _evict(self) -> None:
        gone = self._items[self._start]
        found = self._packed.get(gone.key)
        if found is not None and found[1] is gone.obj:  # the key's newest packed change leaves
            del self._packed[gone.key]
        self.floor = gone.rv
        self._start += 1
        if self._start > len(self._items) // 2:
            del self._items[: self._start]
            self._start = 0
