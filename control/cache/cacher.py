"""One resource's watch cache, as kube-apiserver's Cacher: a reader follows the store's change log
(one stream read for the whole process, however many watches), decodes each change once, keeps the
current objects (indexed by namespace and, for pods, by ``spec.nodeName``) and a ring of recent
changes, and hands each change to the watchers it concerns. It holds the objects as encoded JSON
(``pages.Held``): a read decodes the few it hands out, a list or a watch sends the text as it is.
Reads wait until the cache has reached a revision: the store's progress (the revision of the
resource's last change) tells when it has. Effectful: a reader thread, and waits on a condition.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from common import errors, fastjson
from common.meta import without_managed_fields
from common.resources import ResourceType
from control.cache import dispatch
from control.cache.dispatch import Filter, Watcher, WatcherIndex
from control.cache.pages import Held, Page, select
from control.cache.ring import UPPER_CAPACITY, Delivered, Entry, Ring, too_old
from control.registry import strategies as st
from control.registry.filtering import complete
from control.registry.freshness import too_large
from control.store import Store, WatchEvent

log = logging.getLogger(__name__)

Obj = dict[str, Any]
# How long the reader blocks on a quiet log before it looks whether it should stop.
READER_POLL = 1.0
# Changes read back from the store's log when the cache starts, so that a watch from a revision
# obtained before it started is served (the store keeps about as many; older ones get 410).
SEED_REVISIONS = 10_000
# How often a read waiting for a revision asks the store where it stands (one cheap round trip).
PROGRESS_STEP = 0.05
# Back-off of the reader after the store failed, in seconds.
RETRY = (0.1, 1.0)
# After a first load failed, requests are refused with its error for this long instead of each
# waiting its turn to try again (a burst of watches against a frozen store would queue up).
LOAD_RETRY_SECONDS = 1.0


def key_of(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    return (f"{ns}/{name}" if ns else name), ns


class Cacher:
    def __init__(
        self,
        store: Store,
        rt: ResourceType,
        *,
        buffer: int = dispatch.BUFFER,
        clock: Callable[[], float] = time.monotonic,
        trim: bool = False,
        ring_upper: int = UPPER_CAPACITY,
    ) -> None:
        self.store, self.rt = store, rt
        # Keep the objects without ``metadata.managedFields`` (see ``WatchCache``).
        self.trim = trim
        self.ring_upper = ring_upper
        self.buffer = buffer
        self.clock = clock
        # Guards everything below; notified whenever the cache moves forward.
        self.cond = threading.Condition()
        self._starting = threading.Lock()
        self._failed: tuple[float, errors.ApiError] | None = None
        self.ready = False
        self.stopped = False
        self.state: dict[str, Held] = {}
        self.by_namespace: dict[str, set[str]] = {}
        self.by_node: dict[str, set[str]] = {}
        self.indexed = st.strategy(rt).indexed_field
        self.ring = self._new_ring(0)
        self.watchers = WatcherIndex(self.indexed or "")
        # Complete up to ``rv``; ``applied``: the last change read from the log; pages can be
        # rebuilt at revisions from ``undo_floor`` on (earlier changes lack their old object).
        self.rv = self.applied = self.undo_floor = 0
        self._sorted: list[str] | None = None

    # -- start and the reader -------------------------------------------------------------------

    def start(self) -> None:
        """Load the objects and recent history in the calling thread (a store that cannot be
        reached fails this request with its 503), then follow the log in a reader thread."""
        if self.ready:
            return
        with self._starting:
            if self.ready:
                return
            if self._failed is not None and self.clock() - self._failed[0] < LOAD_RETRY_SECONDS:
                raise self._failed[1].with_traceback(None)
            try:
                events = self._load()
            except errors.ApiError as e:
                self._failed = (self.clock(), e)
                raise
            self._failed = None
            threading.Thread(
                target=_follow,
                args=(weakref.ref(self), events),
                name=f"watch-cache-{self.rt.plural}",
                daemon=True,
            ).start()

    def snapshot(self) -> None:
        """Load the objects and recent history in the calling thread and follow the log no
        further: a stopped cache, as the store stood (no reader thread)."""
        events = self._load(level=logging.DEBUG)
        close = getattr(events, "close", None)
        if close is not None:
            close()  # its stream connection goes back to the pool
        self.stop()

    def stop(self) -> None:
        """Close every watcher; the reader ends at its next look (``READER_POLL``)."""
        with self.cond:
            self.stopped = True
            for w in self.watchers.all():
                w.close()

    def _load(self, level: int = logging.INFO) -> Iterator[WatchEvent | None]:
        """List the store, read back its recent changes into the ring, and return the log from
        where the cache stands; every open watcher is closed (it re-watches). A log trimmed
        while this reads it means listing again."""
        while True:
            try:
                return self._load_once(level)
            except errors.GoneError as e:
                log.info("watch cache %s: %s while loading, listing again", self.rt.plural, e)

    def _load_once(self, level: int) -> Iterator[WatchEvent | None]:
        plural = self.rt.plural
        items, listed = self.store.list(plural)
        p = self.store.progress(plural)
        if p.compacted > listed:
            raise too_old(listed, p.compacted)  # changes after the list are already trimmed
        since = max(p.compacted, listed - SEED_REVISIONS, 0)
        events = self.store.watch(plural, since, poll=READER_POLL)
        state = {key_of(o)[0]: self.held(self._complete(o)) for o in items}
        ring = self._new_ring(since)
        history: dict[str, Held] = {}
        read = listed
        if p.last > since:
            for ev in events:
                if ev is None:
                    continue
                read = max(read, ev.rv)
                if ev.rv <= listed:
                    ring.append(self._history_entry(ev, history))
                else:
                    ring.append(self._change(ev, state))
                if ev.rv >= p.last:
                    break
        with self.cond:
            for w in self.watchers.all():
                w.close()
            self.watchers = WatcherIndex(self.indexed or "")
            self.state, self.ring, self._sorted = state, ring, None
            self.by_namespace, self.by_node = {}, {}
            for key, held in state.items():
                self._index(key, held, add=True)
            self.applied, self.undo_floor = read, listed
            self.rv = max(read, p.revision)
            self.ready = True
            self.cond.notify_all()
        log.log(level, "watch cache %s: %d objects at revision %d", plural, len(state), self.rv)
        return events

    def _new_ring(self, floor: int) -> Ring:
        return Ring(floor, upper=self.ring_upper)

    def apply(self, ev: WatchEvent) -> None:
        """One change from the log: into the objects, the ring and the watchers it concerns."""
        with self.cond:
            entry = self._change(ev, self.state)
            self.ring.append(entry)
            for w in self.watchers.candidates(entry):
                etype = dispatch.classify(entry, w.filter)
                if etype is not None and not w.push(entry.deliver(etype)):
                    self.watchers.remove(w)
            self.applied = ev.rv
            self.rv = max(self.rv, ev.rv)
            self.cond.notify_all()

    def _change(self, ev: WatchEvent, state: dict[str, Held]) -> Entry:
        """The ring entry of a change, applied to ``state`` (the old object comes from it)."""
        obj = self._complete(ev.object)
        key, ns = key_of(obj)
        old = state.get(key)
        held = self.held(obj, old)
        entry = Entry(ev.type, ev.rv, key, ns, held[0], held[1], held[2], recorded=self.clock())
        before = held if old is None and ev.type == "DELETED" else old
        if before is not None:
            entry.prev, entry.prev_labels, entry.prev_fields = before
        elif ev.prev is not None:
            self._partial_prev(entry, ev.prev)
        if state is not self.state:
            if ev.type == "DELETED":
                state.pop(key, None)
            else:
                state[key] = held
            return entry
        if old is not None:
            self._index(key, old, add=False)
        if ev.type == "DELETED":
            self.state.pop(key, None)
        else:
            self.state[key] = held
            self._index(key, held, add=True)
        if old is None or ev.type == "DELETED":
            self._sorted = None  # a modification keeps the set of keys
        return entry

    def _history_entry(self, ev: WatchEvent, history: dict[str, Held]) -> Entry:
        """A change from before the cache's list: its old object is the one the history read
        before it, or only what selectors look at (``prev``)."""
        obj = self._complete(ev.object)
        key, ns = key_of(obj)
        old = history.get(key)
        held = self.held(obj, old)
        entry = Entry(ev.type, ev.rv, key, ns, held[0], held[1], held[2], recorded=self.clock())
        before = held if ev.type == "DELETED" else old
        if before is not None:
            entry.prev, entry.prev_labels, entry.prev_fields = before
        elif ev.prev is not None:
            self._partial_prev(entry, ev.prev)
        if ev.type == "DELETED":
            history.pop(key, None)
        else:
            history[key] = held
        return entry

    def _partial_prev(self, entry: Entry, prev: Obj) -> None:
        entry.prev, entry.prev_labels, entry.prev_fields = self.held(prev)
        entry.prev_full = False

    def _complete(self, obj: Obj) -> Obj:
        done = complete(self.rt, obj)
        return without_managed_fields(done) if self.trim else done

    def held(self, obj: Obj, old: Held | None = None) -> Held:
        """What the cache keeps of ``obj``; labels and fields equal to those ``old`` (the
        object's previous version) holds are its own, kept once for both (most changes of a pod
        change neither). Field values are interned: most are shared by thousands of objects (a
        namespace, a phase, a node's name, an Event's reason)."""
        labels = (obj.get("metadata") or {}).get("labels") or {}
        fields = {k: sys.intern(v) for k, v in st.field_values(self.rt, obj).items()}
        if old is not None:
            labels = old[1] if labels == old[1] else labels
            fields = old[2] if fields == old[2] else fields
        return fastjson.dumpb(obj), labels, fields

    def _index(self, key: str, held: Held, *, add: bool) -> None:
        ns = key.split("/", 1)[0] if "/" in key else ""
        slots = [(self.by_namespace, ns)]
        if self.indexed:  # spec.nodeName for pods: the agents' watches
            slots.append((self.by_node, held[2].get(self.indexed, "")))
        for table, slot in slots:
            if add:
                table.setdefault(slot, set()).add(key)
            elif (found := table.get(slot)) is not None:
                found.discard(key)
                if not found:
                    del table[slot]

    # -- freshness --------------------------------------------------------------------------------

    def sync(self, timeout: float) -> bool:
        """Bring the cache up to the store's current revision (a consistent read): ask the store
        where the resource's log ends, wait until the reader has read that far. False when it
        has not within ``timeout`` seconds."""
        deadline = self.clock() + timeout
        p = self.store.progress(self.rt.plural)
        with self.cond:
            while self.applied < p.last and not self.stopped:
                left = deadline - self.clock()
                if left <= 0:
                    return False
                self.cond.wait(left)
            # No change of this resource lies between its last one and the store's revision.
            self.rv = max(self.rv, p.revision)
            return True

    def wait_fresh(self, wanted: int, timeout: float) -> None:
        """Wait until the cache has reached revision ``wanted``; after ``timeout`` seconds the
        504 "Too large resource version" (as kube-apiserver's waitUntilFreshAndBlock)."""
        deadline = self.clock() + timeout
        while self.rv < wanted:
            if self.sync(deadline - self.clock()) and self.rv >= wanted:
                return
            left = deadline - self.clock()
            if left <= 0:
                raise too_large(wanted, self.rv)
            with self.cond:
                self.cond.wait(min(PROGRESS_STEP, left))

    # -- reads ------------------------------------------------------------------------------------

    def peek(self, namespace: str, name: str) -> Obj | None:
        """A copy of the object as the cache holds it, or None (not there, or the cache not
        loaded yet)."""
        if not self.ready:
            return None
        with self.cond:
            held = self.state.get(f"{namespace}/{name}" if namespace else name)
        return fastjson.loads(held[0]) if held is not None else None

    def on_node(self, node: str, namespace: str = "") -> list[Obj]:
        """Copies of the objects the node index files under ``node`` (pods by
        ``spec.nodeName``), of ``namespace`` when one is given, as the cache holds them now (no
        store round trip)."""
        prefix = f"{namespace}/" if namespace else ""
        with self.cond:
            keys = self.by_node.get(node, ())
            found = [self.state[k][0] for k in keys if k.startswith(prefix)]
        return [fastjson.loads(raw) for raw in found]

    def read(self, f: Filter, *, start: str = "", limit: int = 0, at: int = 0) -> tuple[Page, int]:
        """A page of the objects ``f`` selects (encoded), and the revision it was read at: the
        cache's own, or ``at`` (rebuilt from the ring; 410 when the ring no longer reaches back
        so far)."""
        with self.cond:
            if at and at < self.rv:
                keys, view = self._view_at(at, f)
                return select(keys, view.get, f, start=start, limit=limit), at
            keys = self._keys(f)
            return select(keys, self.state.get, f, start=start, limit=limit), self.rv

    def _keys(self, f: Filter) -> list[str]:
        if f.name is not None and (f.namespace or not self.rt.namespaced):
            key = f"{f.namespace}/{f.name}" if f.namespace else f.name  # one object at most
            return [key] if key in self.state else []  # ``select`` still applies every selector
        if f.node is not None:
            found = self.by_node.get(f.node, set())
            if f.namespace:
                return sorted(k for k in found if k.startswith(f"{f.namespace}/"))
            return sorted(found)
        if f.namespace:
            return sorted(self.by_namespace.get(f.namespace, ()))
        if self._sorted is None:
            self._sorted = sorted(self.state)
        return self._sorted

    def _view_at(self, rv: int, f: Filter) -> tuple[list[str], dict[str, Held]]:
        """The objects as they were at revision ``rv``: today's, with every later change undone."""
        if rv < max(self.undo_floor, self.ring.floor):
            raise too_old(rv, max(self.undo_floor, self.ring.floor))
        before: dict[str, Held | None] = {}
        for e in self.ring.since(rv):
            if e.key not in before:
                prev = e.prev_text()
                before[e.key] = None if prev is None else (prev, e.prev_labels, e.prev_fields)
        view = {k: v for k, v in self.state.items() if k not in before}
        view.update((k, v) for k, v in before.items() if v is not None)
        prefix = f"{f.namespace}/" if f.namespace else ""
        return sorted(k for k in view if k.startswith(prefix)), view

    def watch(self, since: int, f: Filter) -> tuple[list[Delivered], Watcher]:
        """Register a watcher: the events it starts with (the current objects as ADDED when
        ``since`` is 0, else every change after ``since`` that it sees; 410 when the ring no
        longer reaches back so far), then what the reader hands it."""
        w = Watcher(f, self.buffer)
        with self.cond:
            if since:
                initial = []
                for e in self.ring.since(since):
                    etype = dispatch.classify(e, f)
                    if etype is not None:
                        initial.append(e.deliver(etype))
            else:
                page = select(self._keys(f), self.state.get, f)
                initial = [Delivered("ADDED", raw) for raw in page.items]
            if self.stopped:
                w.close()
            else:
                self.watchers.add(w)
        return initial, w

    def forget(self, w: Watcher) -> None:
        with self.cond:
            self.watchers.remove(w)

    def bookmark(self, w: Watcher) -> Delivered | None:
        """A BOOKMARK at the cache's revision, when nothing is waiting for this watcher (so the
        revision never runs ahead of an event it has yet to send)."""
        with self.cond:
            if w.pending():
                return None
            mark = {"kind": self.rt.kind, "apiVersion": self.rt.api_version,
                    "metadata": {"resourceVersion": str(self.rv)}}  # fmt: skip
            return Delivered("BOOKMARK", fastjson.dumpb(mark))


def _follow(ref: weakref.ReferenceType[Cacher], events: Iterator[WatchEvent | None] | None) -> None:
    """The reader: apply each change of the log until the cache stops or is dropped. A log
    trimmed past the cache's revision means listing again; a store failure, retrying."""
    delay = RETRY[0]
    while True:
        cacher = ref()
        if cacher is None or cacher.stopped:
            return
        try:
            if events is None:
                events = cacher._load()
            ev = next(events)
            if ev is not None:
                cacher.apply(ev)
            delay = RETRY[0]
        except errors.GoneError:
            log.warning("watch cache %s: its log was trimmed past it, listing", cacher.rt.plural)
            events = None
        except Exception as e:  # the reader must survive anything: it logs and backs off
            log.warning("watch cache %s: %s; retrying in %.1fs", cacher.rt.plural, e, delay)
            if events is not None:
                events = cacher.store.watch(cacher.rt.plural, cacher.applied, poll=READER_POLL)
            del cacher
            time.sleep(delay)
            delay = min(delay * 2, RETRY[1])
        cacher = None
