"""Shared informers, as client-go's: one list+watch of a resource into an indexed in-memory cache,
and handlers told of every change, so that controllers read the cache and wake only the keys an
event concerns instead of listing the store.

``Indexer`` is the cache (thread-safe, objects keyed ``namespace/name``, secondary indexes by
function). ``Informer.run`` lists, fills the cache, then watches from the list's resourceVersion;
a 410 (the history was trimmed) or a broken watch lists again, and the difference between the
cache and the new list reaches the handlers as adds, updates and deletes, so nothing is missed.
Where the events come from is a ``ListerWatcher``: the API over HTTP (``ApiListerWatcher``, the
agent's way) or the registry in-process (the controllers'). Handlers run on the informer's
thread and must be quick: they enqueue keys. Objects handed out are shared: never mutate them.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from common import errors, onstop
from common.client import ApiClient, WatchCancel
from common.resources import ResourceType

log = logging.getLogger(__name__)

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]
# Back-off between failed list+watch rounds (client-go's reflector: 800 ms doubling to 30 s).
BACKOFF_START = 0.8
BACKOFF_MAX = 30.0
# A watch the server is asked to end after this long at the least, then resumed from where it
# was: client-go's reflector picks each watch's timeout at random between its minWatchTimeout
# (5 min) and twice that, so that a thousand nodes' watches, started together, do not all end and
# come back together (tinykube's server bookmarks quiet watches meanwhile).
WATCH_SECONDS = 300


def watch_timeout(least: int, draw: Callable[[], float] = random.random) -> int:
    """A watch's ``timeoutSeconds`` as client-go's reflector picks it: in [least, 2 x least)."""
    return int(least * (1.0 + draw()))


def key_of(obj: Mapping[str, Any]) -> str:
    """``namespace/name``, or ``name`` for a cluster-scoped object (client-go's
    MetaNamespaceKeyFunc)."""
    m = obj.get("metadata") or {}
    ns = m.get("namespace") or ""
    return f"{ns}/{m.get('name', '')}" if ns else str(m.get("name", ""))


def by_namespace(obj: Obj) -> list[str]:
    return [str((obj.get("metadata") or {}).get("namespace") or "")]


def by_node_name(obj: Obj) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [str(node)] if node else []


def by_owner_uid(obj: Obj) -> list[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [str(r["uid"]) for r in refs if isinstance(r, dict) and r.get("uid")]


class Indexer:
    """Objects by key, with an index per function; every method takes the lock."""

    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._lock = threading.RLock()
        self._items: dict[str, Obj] = {}
        self._funcs = dict(indexers or {})
        self._indexes: dict[str, dict[str, set[str]]] = {name: {} for name in self._funcs}

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Add index functions (an informer shared by several controllers gathers theirs),
        indexing what is already stored; an index already present keeps its function."""
        with self._lock:
            for name, func in indexers.items():
                if name in self._funcs:
                    continue
                self._funcs[name] = func
                self._indexes[name] = {}
                for key, obj in self._items.items():
                    for value in func(obj):
                        self._indexes[name].setdefault(value, set()).add(key)

    def get(self, key: str) -> Obj | None:
        with self._lock:
            return self._items.get(key)

    def objects(self) -> list[Obj]:
        with self._lock:
            return list(self._items.values())

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._items)

    def by_index(self, index: str, value: str) -> list[Obj]:
        """The objects whose ``index`` function gives ``value`` (KeyError for an unknown index)."""
        with self._lock:
            return [self._items[k] for k in self._indexes[index].get(value, ())]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def upsert(self, obj: Obj) -> Obj | None:
        """Store the object; returns the one it replaced, if any."""
        key = key_of(obj)
        with self._lock:
            old = self._items.get(key)
            if old is not None:
                self._unindex(key, old)
            self._items[key] = obj
            self._index(key, obj)
            return old

    def remove(self, obj: Obj) -> Obj | None:
        """Forget the object's key; returns what was stored under it, if anything."""
        key = key_of(obj)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._unindex(key, old)
            return old

    def _index(self, key: str, obj: Obj) -> None:
        for name, func in self._funcs.items():
            for value in func(obj):
                self._indexes[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, func in self._funcs.items():
            index = self._indexes[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]


class ListerWatcher(Protocol):
    """Where an informer's objects come from."""

    def list_all(self, resource_version: str = "") -> tuple[list[Obj], str]:
        """The objects and the resourceVersion of that list: at least as recent as
        ``resource_version``, any recent state for "0", the current state for ""."""
        ...

    def watch(self, resource_version: str, stop: threading.Event) -> Iterator[Obj]:
        """``{"type", "object"}`` events after ``resource_version`` until the stream ends;
        ``errors.GoneError`` when that version is no longer kept. Ends soon after ``stop``."""
        ...


@dataclass(frozen=True)
class Handler:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


class Informer:
    """A list+watch of one ListerWatcher into an ``Indexer``, telling handlers what changed."""

    def __init__(
        self,
        source: ListerWatcher,
        indexers: Mapping[str, IndexFunc] | None = None,
        *,
        resync: float = 0.0,
        name: str = "informer",
    ) -> None:
        self.source = source
        self.store = Indexer(indexers)
        self.resync = resync  # seconds between resyncs from the cache (0: none)
        self.name = name
        self._handlers: list[Handler] = []
        self._synced = threading.Event()
        self._rv = ""  # where the watch goes on from; "" when a list must come first
        self._last_synced = ""  # the newest resourceVersion seen by a list or an event
        self._unavailable = False  # that version was too old (410): list consistently

    def add_handler(self, handler: Handler) -> None:
        """Add a handler; it is told of the objects already cached as adds, as in client-go."""
        self._handlers.append(handler)
        if handler.on_add is not None:
            for obj in self.store.objects():
                handler.on_add(obj)

    def has_synced(self) -> bool:
        return self._synced.is_set()

    def wait_for_sync(self, timeout: float | None = None) -> bool:
        return self._synced.wait(timeout)

    def start(self, stop: threading.Event) -> threading.Thread:
        t = threading.Thread(target=self.run, args=(stop,), name=self.name, daemon=True)
        t.start()
        return t

    def run(self, stop: threading.Event) -> None:
        """List and watch until ``stop``, listing again after a 410 or a failure (backing off)."""
        if self.resync > 0:
            threading.Thread(target=self._resync_loop, args=(stop,), daemon=True).start()
        delay = BACKOFF_START
        while not stop.is_set():
            try:
                if not self._rv:
                    self._relist()
                self._watch(stop)
                delay = BACKOFF_START
                continue
            except errors.GoneError:
                log.info("%s: resourceVersion %s expired: listing again", self.name, self._rv)
                self._rv = ""
                self._unavailable = True
                continue
            except Exception as e:  # a broken watch or an unreachable server: list again
                log.warning("%s: list+watch failed (%s): again in %.1fs", self.name, e, delay)
                self._rv = ""
            stop.wait(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    def _list_from(self) -> str:
        """client-go's relistResourceVersion: the first list takes "0" (the server may answer
        from its watch cache), later ones the last version synced, and after a 410 a
        consistent list ("")."""
        if self._unavailable:
            return ""
        return self._last_synced or "0"

    def _relist(self) -> None:
        try:
            items, rv = self.source.list_all(self._list_from())
        except errors.GoneError:
            self._unavailable = True
            raise
        seen: set[str] = set()
        for obj in items:
            seen.add(key_of(obj))
            self._apply("ADDED", obj)
        for key in set(self.store.keys()) - seen:
            gone = self.store.get(key)
            if gone is not None:
                self._apply("DELETED", gone)
        self._rv = self._last_synced = rv
        self._unavailable = False
        self._synced.set()

    def _watch(self, stop: threading.Event) -> None:
        for event in self.source.watch(self._rv, stop):
            if stop.is_set():
                return
            obj = event.get("object") or {}
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                self._apply(str(event["type"]), obj)
            if rv:
                self._rv = self._last_synced = rv

    def _apply(self, etype: str, obj: Obj) -> None:
        if etype == "DELETED":
            old = self.store.remove(obj)
            if old is not None:
                self._tell(lambda h: h.on_delete and h.on_delete(obj))
            return
        old = self.store.upsert(obj)
        if old is None:
            self._tell(lambda h: h.on_add and h.on_add(obj))
        elif _rv(old) != _rv(obj):
            self._tell(lambda h: h.on_update and h.on_update(old, obj))

    def _tell(self, call: Callable[[Handler], object]) -> None:
        for handler in self._handlers:
            try:
                call(handler)
            except Exception:
                log.exception("%s: an event handler failed", self.name)

    def _resync_loop(self, stop: threading.Event) -> None:
        """Every ``resync`` seconds each cached object reaches the handlers as an update of
        itself (level-triggered controllers look at every key again), read from the cache."""
        while not stop.wait(self.resync):
            for obj in self.store.objects():
                self._tell(lambda h, o=obj: h.on_update and h.on_update(o, o))  # type: ignore[misc]


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class ApiListerWatcher:
    """A resource through the API server, as the agent and tkctl reach it."""

    def __init__(
        self,
        client: ApiClient,
        rt: ResourceType,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        watch_seconds: int = WATCH_SECONDS,
    ) -> None:
        self.client = client
        self.rt = rt
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.watch_seconds = watch_seconds

    def list_all(self, resource_version: str = "") -> tuple[list[Obj], str]:
        listing = self.client.list(
            self.rt,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            resource_version=resource_version,
        )
        return list(listing.get("items") or []), str(listing["metadata"]["resourceVersion"])

    def watch(self, resource_version: str, stop: threading.Event) -> Iterator[Obj]:
        cancel = WatchCancel()
        taken_back = onstop.on_stop(stop, cancel.fire)  # cut the stream when the informer stops
        try:
            yield from self.client.watch(
                self.rt,
                self.namespace,
                resource_version=resource_version,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                timeout_seconds=watch_timeout(self.watch_seconds),
                cancel=cancel,
            )
        finally:
            taken_back()
