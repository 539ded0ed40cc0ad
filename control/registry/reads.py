"""Lists and watches served from the watch cache, routed as kube-apiserver's delegator routes
them: ``resourceVersion=0`` from the cache as it stands (``limit`` ignored, as Kubernetes does);
a revision (``NotOlderThan``, or the legacy bare one) once the cache has reached it (3 s, then 504);
an ``Exact`` revision (or a legacy one with ``limit``) as it was then, rebuilt from the ring;
no revision — a consistent read — once the cache has caught up with the store's current revision,
or from the store when it does not within 3 s; a ``continue`` token at its first page's revision,
rebuilt from the ring (410 with an inconsistent token to go on with, once the ring no longer
reaches back so far). A list's items are the cache's encoded objects. Effectful.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from common import errors
from common.resources import ResourceType
from control.cache import WatchCache, pages
from control.cache.cacher import Cacher, key_of
from control.cache.dispatch import Closed, Filter, Watcher
from control.cache.ring import Delivered
from control.registry import freshness
from control.registry.filtering import complete
from control.store import Store, parse_rv

Obj = dict[str, Any]

CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this response "
    "to retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list."
)
PRE_TIMEOUT_BOOKMARK = 2.0
"""Seconds before a watch's deadline when it gets a last BOOKMARK (kube-apiserver's value)."""


@dataclass(frozen=True)
class ListOptions:
    resource_version: str = ""
    match: str = ""
    limit: int = 0
    continue_token: str = ""


def list_objects(
    cache: WatchCache, store: Store, rt: ResourceType, f: Filter, opts: ListOptions
) -> Obj:
    cacher = cache.cacher(rt)
    wanted = parse_rv(opts.resource_version) or 0
    start = ""
    if opts.continue_token:
        token = pages.decode(opts.continue_token)
        if opts.resource_version not in ("", "0"):
            raise errors.BadRequestError(
                "specifying resource version is not allowed when using continue"
            )
        start = pages.scope_prefix(f.namespace) + token.start
        if token.rv > 0:
            page, rv = _continued(cacher, f, start, opts.limit, token.rv)
        else:
            page, rv = _consistent(cacher, store, rt, f, start, opts.limit)
    elif opts.match == freshness.EXACT or (wanted and opts.limit and not opts.match):
        page, rv = _exact(cacher, f, opts.limit, wanted)
    elif opts.resource_version == "0":
        page, rv = cacher.read(f)
    elif wanted:
        cacher.wait_fresh(wanted, freshness.BLOCK_TIMEOUT)
        page, rv = cacher.read(f, limit=opts.limit)
    else:
        page, rv = _consistent(cacher, store, rt, f, "", opts.limit)
    listing = _listing(rt, page, rv, f)
    freshness.check_exact(opts.match, wanted, listing)
    return listing


def _exact(cacher: Cacher, f: Filter, limit: int, at: int) -> tuple[pages.Page, int]:
    """The objects as they were at revision ``at``, rebuilt from the ring, as etcd serves an
    ``Exact`` list (and a legacy ``resourceVersion`` with ``limit``); 410 once the ring no longer
    reaches back so far, as for a compacted revision."""
    cacher.wait_fresh(at, freshness.BLOCK_TIMEOUT)
    try:
        return cacher.read(f, limit=limit, at=at)
    except errors.GoneError:
        raise errors.GoneError("The resourceVersion for the provided list is too old.") from None


def _continued(cacher: Cacher, f: Filter, start: str, limit: int, at: int) -> tuple[Any, int]:
    if at > cacher.rv:  # a page of another API server that is ahead of this one
        cacher.wait_fresh(at, freshness.BLOCK_TIMEOUT)
    try:
        return cacher.read(f, start=start, limit=limit, at=at)
    except errors.GoneError:
        relative = start[len(pages.scope_prefix(f.namespace)) :]
        token = pages.encode(-1, relative)
        raise errors.GoneError(CONTINUE_EXPIRED, metadata={"continue": token}) from None


def _consistent(
    cacher: Cacher, store: Store, rt: ResourceType, f: Filter, start: str, limit: int
) -> tuple[pages.Page, int]:
    """A page that holds every write acknowledged before the read began."""
    if cacher.sync(freshness.BLOCK_TIMEOUT):
        return cacher.read(f, start=start, limit=limit)
    items, rev = store.list(rt.plural, f.namespace or None, node=f.node)
    held = {key_of(o)[0]: cacher.held(complete(rt, o)) for o in items}  # encoded as the cache's
    return pages.select(sorted(held), held.get, f, start=start, limit=limit), rev


def _listing(rt: ResourceType, page: pages.Page, rv: int, f: Filter) -> Obj:
    meta: Obj = {"resourceVersion": str(rv)}
    if page.last is not None:
        relative = page.last[len(pages.scope_prefix(f.namespace)) :]
        meta["continue"] = pages.encode(rv, relative + "\x00")
        if page.remaining is not None:
            meta["remainingItemCount"] = page.remaining
    return {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta,
            "items": page.items}  # fmt: skip


@dataclass(eq=False, slots=True)
class Parked:
    """A watch whose first events are out, handed to whoever serves it from then on without
    waiting for its events in a greenlet of its own (``control.apiserver.parking``): its
    watcher (whose ``notify`` says when it has events), the cache (for BOOKMARKs), its deadline,
    the BOOKMARK interval asked for and when the next one is due. Closing the generator that
    yielded it unregisters the watcher."""

    cacher: Cacher
    watcher: Watcher
    until: float | None
    bookmarks: float | None
    mark: float | None
    client: Any = None  # the stream's client (``clientconn.Hangup``), set by the stream


def watch_events(
    cacher: Cacher,
    f: Filter,
    since: int,
    *,
    poll: float,
    until: float | None,
    bookmarks: float | None,
    park: bool = False,
) -> Iterator[Mapping[str, Any] | Parked | None]:
    """The events of one watch: its first events, then each change the cache hands it; None
    when ``poll`` passed quietly; a BOOKMARK every ``bookmarks`` seconds without a line. Waits
    for a revision the cache has not reached (504 after 3 s) and answers 410 for one the ring no
    longer holds, both as the stream's first event. With ``park``, after the first events it
    yields a ``Parked`` instead and ends: its server follows the watcher from then on."""
    if since > cacher.rv:
        wait = freshness.BLOCK_TIMEOUT
        if until is not None:
            wait = min(wait, max(0.0, until - time.monotonic()))
        cacher.wait_fresh(since, wait)
    initial, watcher = cacher.watch(since, f)
    try:
        yield from initial
        # A watch lives for minutes: what it has sent is not kept for its life.
        initial.clear()
        mark = next_bookmark(time.monotonic(), bookmarks, until)
        if park:
            yield Parked(cacher, watcher, until, bookmarks, mark)
            return
        while until is None or (left := until - time.monotonic()) > 0:
            wait = poll if until is None else min(poll, left)
            if mark is not None:
                wait = max(0.0, min(wait, mark - time.monotonic()))
            try:
                event: Delivered | None = watcher.next(wait)
            except Closed:
                return
            if event is None and mark is not None and time.monotonic() >= mark:
                event = cacher.bookmark(watcher)
            if event is not None:
                mark = next_bookmark(time.monotonic(), bookmarks, until)
            yield event
            event = None
    finally:
        cacher.forget(watcher)


def next_bookmark(now: float, every: float | None, until: float | None) -> float | None:
    """When a watch sends its next BOOKMARK, as the watch cache's ``nextBookmarkTime``: after
    ``every`` seconds without a line, or 2 s before the watch's deadline when that comes
    first, so a client resumes from a fresh revision; never once that moment has passed."""
    if every is None:
        return None
    beat = now + every
    if until is None or beat < until:
        return beat
    before_end = until - PRE_TIMEOUT_BOOKMARK
    return before_end if before_end > now else None
