"""The API's operations on any resource: decode, default, validate, authorize-free business rules,
then compare-and-set writes to the store. The HTTP layer and the in-process controllers both call
this, so a binding made by the scheduler follows the same rules as one made over HTTP.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from common import errors, fastjson, meta
from common.heartbeat import HeartbeatPolicy
from common.patch import json_patch, merge_patch, strategic_merge_patch
from common.resources import ResourceType, must
from common.selectors import (
    FieldSelector,
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
)
from common.storage import default_class
from common.wellknown import NAMESPACE_NAME_LABEL
from control.cache import WatchCache
from control.cache.cacher import Cacher
from control.cache.dispatch import Filter
from control.registry import (
    answers,
    binding,
    claims,
    collection,
    deletion,
    freshness,
    noderestriction,
    reads,
    recorder,
    scale,
    serversideapply,
)
from control.registry import strategies as st
from control.registry.allocation import ServiceRanges
from control.registry.dryrun import DryRunStore
from control.registry.filtering import complete
from control.registry.nodeleases import NodeLeases
from control.registry.podsecurity import PodSecurityAdmission
from control.store import Store, parse_rv
from control.validation import (
    decode_object,
    invalid_error,
    validate,
)
from control.validation.decode import Duplicate, strict_warnings
from control.validation.podsecurity import DEFAULT_POLICY, Policy

log = logging.getLogger(__name__)

Obj = dict[str, Any]
# kube-apiserver's --default-{not-ready,unreachable}-toleration-seconds are 300; tinykube's
# default matches its node lifecycle controller's eviction timeout (5 s).
DEFAULT_TOLERATION_SECONDS = (5, 5)
# Read-modify-write attempts of a patch before the conflict is reported to the client.
PATCH_ATTEMPTS = 8
# fieldValidation: tinykube rejects unknown fields unless a request asks otherwise.
STRICT = "Strict"

PATCHERS: dict[str, Callable[[Any, Any], Any]] = {
    "application/merge-patch+json": merge_patch,
    "application/strategic-merge-patch+json": strategic_merge_patch,
    "application/json-patch+json": json_patch,
}

NAMESPACES = must("namespaces")
STORAGE_CLASSES = must("storageclasses")
SERVICE_ACCOUNTS = must("serviceaccounts")
# kube-apiserver's NamespaceLifecycle forceLiveLookupTTL.
LIVE_LOOKUP_SECONDS = 30.0
PRIORITY_CLASSES = must("priorityclasses")
# Warning header texts of a request.
Warnings = list[str]
Names = list[str]


class Registry:
    def __init__(
        self,
        store: Store,
        *,
        allow_privileged: bool = False,
        pod_security: Policy = DEFAULT_POLICY,
        default_tolerations: tuple[int, int] | None = DEFAULT_TOLERATION_SECONDS,
        clock: Callable[[], dt.datetime] = meta.now,
        heartbeats: HeartbeatPolicy | None = None,
        cache: WatchCache | None = None,
        service_ranges: ServiceRanges | None = None,
        service_accounts: bool = False,
        taint_new_nodes: bool = False,
    ) -> None:
        self.store = store
        # Node Leases: the renew interval handed out, and the quick path of a renewal.
        self.node_leases = NodeLeases(store, heartbeats)
        # Lists and watches are served from here (one per process, each resource on first use).
        self.cache = cache or WatchCache(store)
        self.allow_privileged = allow_privileged
        # Pod Security admission over the cluster defaults, and the --allow-privileged policy.
        self.pod_security = PodSecurityAdmission(pod_security, allow_privileged)
        # (not-ready, unreachable) seconds of the DefaultTolerationSeconds admission; None: off.
        self.default_tolerations = default_tolerations
        self.admission = st.Admission(
            default_tolerations,
            self.node_leases.duration,
            service_ranges or ServiceRanges(),
            self._default_storage_class,
            self._service_account if service_accounts else None,
            priority_classes=self._priority_classes,
            taint_new_nodes=taint_new_nodes,
        )
        self.clock = clock
        # Namespaces deleted through this registry lately, until when creates in them read the
        # Namespace from the store.
        self._live_namespaces: dict[str, float] = {}
        # Per resource, the revision of the last object written through this registry: an
        # admission plugin's cached read waits for it (a class is seen by the pods made after it).
        self._written: dict[str, int] = {}
        # Per resource, the revision of the last object this registry deleted at once.
        self._deleted: dict[str, int] = {}
        # True in the view ``dry_running()`` returns: every write checked and answered, none made.
        self.dry_run = False

    def dry_running(self) -> Registry:
        """The same registry for a ``dryRun=All`` request: every step of a write runs (defaults,
        admission, validation, preconditions, conflicts) and its answer is the object as it would
        be stored, but the store is not written and no watcher hears of it. Claims (a Service's
        ClusterIP and node ports) are allocated and checked, never taken."""
        view = copy.copy(self)
        view.store = DryRunStore(self.store)
        view.dry_run = True
        return view

    # -- reads ----------------------------------------------------------------------------------

    def _default_storage_class(self) -> str | None:
        """The default StorageClass's name (the DefaultStorageClass admission's lookup)."""
        classes = self.list(STORAGE_CLASSES, "")["items"]
        found = default_class(classes)
        return str(found["metadata"]["name"]) if found is not None else None

    def _priority_classes(self, *, fresh: bool = False) -> list[Obj]:
        """The PriorityClasses, as the Priority admission plugin's lister has them: this
        process's watch cache as it stands (no store round trip on a pod create), or, ``fresh``,
        a consistent read (a class made a moment ago through another API process)."""
        if fresh:
            return list(self.list(PRIORITY_CLASSES, "")["items"])
        page = self.own_writes_cache(PRIORITY_CLASSES).read(Filter())[0]
        return [fastjson.loads(raw) for raw in page.items]

    def own_writes_cache(self, rt: ResourceType, *, deletes_only: bool = False) -> Cacher:
        """This process's watch cache of ``rt`` once it holds every write of ``rt`` made through
        this registry (read your own writes, without a store round trip); ``deletes_only``: once
        it holds the deletions (a cache lagging behind other writes may still answer)."""
        cacher = self.cache.cacher(rt)
        written = self._deleted.get(rt.plural, 0)
        if not deletes_only:
            written = max(written, self._written.get(rt.plural, 0))
        if cacher.rv < written:
            cacher.wait_fresh(written, freshness.BLOCK_TIMEOUT)
        return cacher

    def get(self, rt: ResourceType, namespace: str, name: str, *, cached: bool = False) -> Obj:
        """One object; ``cached`` (a GET at resourceVersion=0, which Kubernetes serves from its
        watch cache): as this process's watch cache holds it, or from the store when the cache
        does not have it yet."""
        if cached:
            found = self.cache.cacher(rt).peek(_ns(rt, namespace), name)
            if found is not None:
                return found
        try:
            return complete(rt, self.store.get(rt.plural, _ns(rt, namespace), name))
        except errors.NotFoundError:
            raise answers.not_found(rt, name) from None

    def count(self, rt: ResourceType, namespace: str) -> int:
        """How many objects of ``rt`` the store holds (in ``namespace``): a consistent count that
        reads none of them and loads no watch cache."""
        return self.store.count(rt.plural, _ns(rt, namespace) or None)

    def get_scale(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        """``GET .../NAME/scale``: the autoscaling/v1 Scale of a Deployment or ReplicaSet."""
        return scale.scale_of(self.get(rt, namespace, name))

    def list(
        self,
        rt: ResourceType,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        options: reads.ListOptions | None = None,
        verbatim: bool = False,
    ) -> Obj:
        """A list as ``reads.list_objects`` serves it (by default a consistent read). Its items
        are new objects, or, ``verbatim``, the watch cache's encoded ones, to be written as JSON
        as they are (``fastjson.Texts``)."""
        f = self.filter(rt, namespace, label_selector, field_selector)
        listing = reads.list_objects(self.cache, self.store, rt, f, options or reads.ListOptions())
        raws = listing["items"]
        listing["items"] = fastjson.Texts(raws) if verbatim else [fastjson.loads(r) for r in raws]
        return listing

    def selectors(
        self, rt: ResourceType, label_selector: str, field_selector: str
    ) -> tuple[LabelSelector, FieldSelector]:
        return (
            parse_label_selector(label_selector or ""),
            parse_field_selector(field_selector or "", st.selectable_fields(rt), rt.kind),
        )

    def filter(
        self, rt: ResourceType, namespace: str, label_selector: str, field_selector: str
    ) -> Filter:
        labels, fields = self.selectors(rt, label_selector, field_selector)
        indexed = st.strategy(rt).indexed_field
        node = fields.requirement(indexed) if indexed else None
        return Filter(_ns(rt, namespace), labels, fields, node, fields.requirement("metadata.name"))

    def watch(
        self,
        rt: ResourceType,
        namespace: str,
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        poll: float = 5.0,
        timeout: float | None = None,
        bookmarks: float | None = None,
        park: bool = False,
    ) -> Iterator[Mapping[str, Any] | reads.Parked | None]:
        """Watch events as ``{"type", "object"}`` mappings, shared with every other watcher of the
        same change (a cache's event decodes a new object at each ``["object"]``); ``None``
        when ``poll`` passed quietly or an event the selectors filter out went by; with
        ``bookmarks``, a BOOKMARK after that many seconds without an event.

        Without a resourceVersion (or ``0``) the current objects come first as ADDED events;
        without one, once the cache has caught up with the store (a consistent read).
        An object that starts or stops matching the selectors arrives as ADDED or DELETED.
        Selectors and the store are checked before this returns (a bad request or a store down
        fails before a response starts); the events end after ``timeout`` seconds whatever the
        selectors let through; a revision the cache has not reached is waited for up to 3 s,
        then the iterator raises the 504 "Too large resource version"; one older than the
        cache's history raises the 410. With ``park``, a ``reads.Parked`` follows the first
        events and ends them (``reads.watch_events``).
        """
        f = self.filter(rt, namespace, label_selector, field_selector)
        since = parse_rv(resource_version) or 0
        until = None if timeout is None else time.monotonic() + timeout
        cacher = self.cache.cacher(rt)
        if resource_version == "":
            cacher.sync(freshness.BLOCK_TIMEOUT)
        return reads.watch_events(
            cacher, f, since, poll=poll, until=until, bookmarks=bookmarks, park=park
        )

    # -- writes ---------------------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        namespace: str,
        body: Any,
        *,
        field_validation: str = STRICT,
        duplicates: Sequence[Duplicate] = (),
        owned: bool = False,
    ) -> tuple[Obj, Warnings]:
        """POST: a new object; ``owned``: the body is the caller's to give (a request's decoded
        body), taken as it is instead of copied."""
        obj = self._decode(rt, namespace, body, field_validation, duplicates, owned)
        m = meta.meta(obj)
        if not m.get("name") and m.get("generateName"):
            m["name"] = meta.generated_name(str(m["generateName"]))
        ns = None
        if rt.namespaced:
            ns = self._require_namespace(rt, m["namespace"], str(m.get("name", "")))
        strategy = st.strategy(rt)
        strategy.prepare_create(rt, obj, self.clock())
        strategy.admit(obj, self.admission)
        strategy.admit_create(obj, str(m.get("namespace") or ""), self.admission)

        def write(candidate: Obj, held: Sequence[str] | None) -> Obj:
            self._validate(rt, candidate, None)
            noderestriction.admit(rt, candidate, None)
            self.pod_security.admit(self.store, rt, candidate, None, ns)
            serversideapply.track(self, rt, candidate, None, "")
            return complete(rt, self.store.create(rt.plural, candidate, claims=held or ()))

        warnings: Warnings = strategy.warnings(obj)
        try:
            created = claims.write(self.store, strategy, self.admission, obj, None, write)
        except errors.AlreadyExistsError:
            raise errors.AlreadyExistsError(
                f'{rt.qualified} "{m["name"]}" already exists',
                details={"name": m["name"], "group": rt.group, "kind": rt.plural},
            ) from None
        self._remember(rt, created)
        self._companions(strategy, created)
        return created, warnings

    def _companions(self, strategy: st.Strategy, created: Obj) -> None:
        """Write what the strategy makes with a new object (never in a dry run)."""
        if self.dry_run:
            return
        for plural, namespace, obj in strategy.companions(created, self.admission):
            with contextlib.suppress(errors.AlreadyExistsError, errors.NotFoundError):
                self.create(must(plural), namespace, obj)

    def replace(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        *,
        sub: str = "",
        field_validation: str = STRICT,
        duplicates: Sequence[Duplicate] = (),
        owned: bool = False,
    ) -> Obj:
        """PUT: the whole object (or its status), compare-and-set on the body's resourceVersion;
        ``owned`` as for ``create``."""
        if sub == "scale":
            return scale.replace_scale(self, rt, namespace, name, body)
        quick = not sub and not self.dry_run
        if quick and (renewed := self.node_leases.renew(rt, namespace, name, body, duplicates)):
            return renewed
        obj = self._decode(rt, namespace, body, field_validation, duplicates, owned)
        m = meta.meta(obj)
        if m.get("name") != name:
            raise errors.BadRequestError(
                f"the name of the object ({m.get('name')}) does not match the name on the URL "
                f"({name})"
            )
        expected = parse_rv(m.get("resourceVersion"))
        cached = self._cached_status_base(rt, namespace, name, expected, sub)
        old = cached if cached is not None else self.get(rt, namespace, name)
        # A write that changed nothing answers the object it started from: the cache's is a copy.
        return self._write_update(rt, obj, old, expected, sub)

    def _cached_status_base(
        self, rt: ResourceType, namespace: str, name: str, expected: int | None, sub: str
    ) -> Obj | None:
        """The watch cache's object for a status PUT naming the resourceVersion it replaces,
        when the cache holds that very version (the write is a compare-and-set on it: should the
        store have moved on, it is the conflict the client's stale version deserves); else None,
        and the store is read. The object is a copy (``Cacher.peek``), the caller's own."""
        if sub != "status" or expected is None or self.dry_run or self.cache.trims(rt):
            return None  # a trimmed cache's object lacks the managedFields the write keeps
        found = self.cache.cacher(rt).peek(_ns(rt, namespace), name)
        if found is None or parse_rv(found["metadata"].get("resourceVersion")) != expected:
            return None
        return found

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch: Any,
        content_type: str,
        *,
        sub: str = "",
        field_validation: str = STRICT,
        duplicates: Sequence[Duplicate] = (),
    ) -> Obj:
        patcher = PATCHERS.get(content_type.split(";")[0].strip())
        if patcher is None:
            raise errors.UnsupportedMediaTypeError(
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {', '.join(PATCHERS)}"
            )
        if content_type.startswith("application/json-patch") != isinstance(patch, list):
            raise errors.BadRequestError("the patch body does not match its content type")
        if sub == "scale":
            return scale.patch_scale(self, rt, namespace, name, patch, patcher, PATCH_ATTEMPTS)
        meta = patch.get("metadata") if isinstance(patch, dict) else None
        # A patch whose metadata is not an object has no precondition; validation refuses it.
        precondition = parse_rv(meta.get("resourceVersion")) if isinstance(meta, dict) else None
        for _ in range(PATCH_ATTEMPTS):
            old = self.get(rt, namespace, name)
            patched = patcher(copy.deepcopy(old), patch)
            obj = self._decode(rt, namespace, patched, field_validation, duplicates)
            try:
                return self._write_update(
                    rt, obj, old, precondition or int(old["metadata"]["resourceVersion"]), sub
                )
            except errors.ConflictError:
                if precondition is not None:
                    raise
        raise answers.conflict(rt, name)

    def apply(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        config: Any,
        *,
        force: bool = False,
        sub: str = "",
    ) -> tuple[Obj, bool]:
        """``PATCH`` of ``application/apply-patch+yaml``: server-side apply (an upsert);
        (the object, whether it was created)."""
        if sub == "scale":
            applied = scale.apply_scale(self, rt, namespace, name, config, force, PATCH_ATTEMPTS)
            return applied, False
        return serversideapply.apply(self, rt, namespace, name, config, force, sub)

    def decode_for_apply(self, rt: ResourceType, namespace: str, obj: Obj) -> Obj:
        return self._decode(rt, namespace, obj)

    def write_update(
        self, rt: ResourceType, obj: Obj, old: Obj, expected: int, sub: str = ""
    ) -> Obj:
        """The update path (prepare, admission, validation, compare-and-set)."""
        return self._write_update(rt, obj, old, expected, sub)

    def bind(self, namespace: str, name: str, body: Any) -> Obj:
        """``POST pods/NAME/binding``: set ``spec.nodeName`` once, with ``PodScheduled=True``."""
        return binding.bind(self, namespace, name, body, PATCH_ATTEMPTS)

    def delete(self, rt: ResourceType, namespace: str, name: str, options: Any) -> Obj:
        if st.strategy(rt).holds_content:
            # Creates in it are checked against the store for a while, not this process's cache,
            # which may not have seen the deletion yet (NamespaceLifecycle's forceLiveLookup).
            self._live_namespaces[name] = time.monotonic() + LIVE_LOOKUP_SECONDS
        opts = options if isinstance(options, dict) else {}
        decode_object("DeleteOptions", opts)
        # The options first, as kube-apiserver's handler validates them before any read.
        causes = validate("DeleteOptions", opts)
        if causes:
            raise invalid_error("DeleteOptions", "", causes)
        pre = opts.get("preconditions") or {}
        obj = self.get(rt, namespace, name)
        answers.check_preconditions(rt, obj, pre)
        expected = parse_rv(pre.get("resourceVersion"))
        strategy = st.strategy(rt)
        strategy.check_deletable(name)
        grace = strategy.grace_period(obj, opts.get("gracePeriodSeconds"))
        policy = deletion.propagation_policy(opts)
        finalizers = deletion.gc_finalizers(obj["metadata"].get("finalizers") or [], policy)
        if grace > 0 or finalizers or deletion.spec_finalizers(obj):
            return self._mark_deleting(rt, obj, grace, finalizers, expected)
        return self._delete_stored(rt, namespace, name, expected, pre.get("uid") or None)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str,
        options: Any,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> Obj:
        """``DELETE`` on a collection: every object the selectors match, deleted as one DELETE
        of it would be; the list of what was deleted."""
        return collection.delete_collection(self, rt, namespace, options,
                                            label_selector=label_selector,
                                            field_selector=field_selector)  # fmt: skip

    # -- helpers --------------------------------------------------------------------------------

    def _mark_deleting(
        self, rt: ResourceType, obj: Obj, grace: int, finalizers: Names, expected: int | None
    ) -> Obj:
        """Keep the object with a deletionTimestamp until its grace period is over (pods) and its
        finalizers are done; a later DELETE may shorten the grace period or change the policy."""
        m = obj["metadata"]
        before = copy.deepcopy(obj)
        if finalizers:
            m["finalizers"] = finalizers
        else:
            m.pop("finalizers", None)
        if not m.get("deletionTimestamp") or int(m.get("deletionGracePeriodSeconds", 0)) > grace:
            m["deletionTimestamp"] = meta.timestamp(self.clock() + dt.timedelta(seconds=grace))
            m["deletionGracePeriodSeconds"] = grace
        st.strategy(rt).mark_deleting(obj)
        if obj == before:
            return obj
        rv = expected or int(m["resourceVersion"])
        return self._remove_if_done(
            rt, complete(rt, self.store.update(rt.plural, obj, expected_rv=rv))
        )

    def _remove_if_done(self, rt: ResourceType, obj: Obj) -> Obj:
        """A deleted object whose grace period and finalizers are over leaves the store."""
        if deletion.removable(obj):
            m = obj["metadata"]
            with contextlib.suppress(errors.NotFoundError, errors.ConflictError):
                self.store.delete(
                    rt.plural, _ns(rt, m.get("namespace", "")), m["name"],
                    expected_rv=int(m["resourceVersion"]),
                )  # fmt: skip
        return obj

    def _write_update(
        self, rt: ResourceType, obj: Obj, old: Obj, expected: int | None, sub: str
    ) -> Obj:
        if sub == "status":
            new = st.prepare_status_update(obj, old)
            serversideapply.keep_applied(new, obj)
            causes = st.strategy(rt).validate_status(new, old)
            if causes:
                raise invalid_error(rt.kind, str(old["metadata"].get("name", "")), causes)
            return self._store_update(rt, new, old, expected, sub)
        if sub == "finalize":
            return self._store_update(rt, st.prepare_finalize(obj, old), old, expected, sub)
        if sub == "ephemeralcontainers":
            new = st.prepare_ephemeral_update(obj, old)
            causes = st.validate_ephemeral(new, old)
            if causes:
                raise invalid_error(rt.kind, str(old["metadata"].get("name", "")), causes)
            self.pod_security.admit(self.store, rt, new, old)
            return self._store_update(rt, new, old, expected, sub)
        strategy = st.strategy(rt)
        strategy.admit(obj, self.admission)  # before the generation is counted from the spec
        strategy.prepare_update(rt, obj, old)

        def write(new: Obj, held: Sequence[str] | None) -> Obj:
            self._validate(rt, new, old)
            self.pod_security.admit(self.store, rt, new, old)
            return self._store_update(rt, new, old, expected, sub, held)

        return claims.write(self.store, strategy, self.admission, obj, old, write)

    def _store_update(
        self,
        rt: ResourceType,
        new: Obj,
        old: Obj,
        expected: int | None,
        sub: str,
        held: Sequence[str] | None = None,
    ) -> Obj:
        # The precondition first, as kube-apiserver's GuaranteedUpdate: a stale resourceVersion
        # is a conflict even when the write would change nothing.
        if expected is not None and expected != parse_rv(old["metadata"].get("resourceVersion")):
            raise answers.conflict(rt, old["metadata"]["name"])
        if deletion.emptied_by_update(new, old):
            return self._delete_emptied(rt, new, old, expected, sub)
        if _same(new, old) and not self._stale(rt, old):
            return old
        serversideapply.track(self, rt, new, old, sub)
        expected = noderestriction.admit_update(rt, new, old, sub, expected)
        try:
            updated = complete(
                rt, self.store.update(rt.plural, new, expected_rv=expected, claims=held)
            )
        except errors.ClaimTakenError:
            raise
        except errors.ConflictError:
            raise answers.conflict(rt, old["metadata"]["name"]) from None
        except errors.NotFoundError:
            raise answers.not_found(rt, old["metadata"]["name"]) from None
        self._remember(rt, updated)
        return updated

    def _delete_emptied(
        self, rt: ResourceType, new: Obj, old: Obj, expected: int | None, sub: str
    ) -> Obj:
        """The write that removes a deleted object's last finalizer removes the object, in one
        compare-and-set on the version it replaces, as kube-apiserver's update does: written
        first and deleted after, another write slipping in between (a controller's status)
        would leave it deleted, finalized and never removed. The answer is the object as it
        was last stored."""
        expected = noderestriction.admit_update(rt, new, old, sub, expected)
        m = old["metadata"]
        try:
            return self._delete_stored(
                rt, m.get("namespace", ""), m["name"], expected, m.get("uid") or None
            )
        except errors.ConflictError:
            raise answers.conflict(rt, m["name"]) from None

    def _delete_stored(
        self, rt: ResourceType, namespace: str, name: str, expected: int | None, uid: str | None
    ) -> Obj:
        """Remove the object from the store (at ``expected``, of ``uid``, when given), noting
        the revision of the deletion; the object as it was last stored."""
        try:
            gone = self.store.delete(
                rt.plural, _ns(rt, namespace), name, expected_rv=expected, expected_uid=uid
            )
        except errors.NotFoundError:
            raise answers.not_found(rt, name) from None
        if not self.dry_run and (rv := gone["metadata"].get("resourceVersion")):
            self._deleted[rt.plural] = max(self._deleted.get(rt.plural, 0), int(rv))
        return complete(rt, gone)

    def _remember(self, rt: ResourceType, written: Obj) -> None:
        """Keep a node Lease just written for its next renewal, and the revision of the write
        (never of one a dry run made up)."""
        if not self.dry_run:
            self.node_leases.remember(rt, written)
            self._written[rt.plural] = int(written["metadata"]["resourceVersion"])

    def _stale(self, rt: ResourceType, obj: Obj) -> bool:
        """Whether the stored object must be rewritten with the current encryption key."""
        m = obj["metadata"]
        return self.store.stale(rt.plural, _ns(rt, m.get("namespace", "")), m["name"])

    def _decode(
        self,
        rt: ResourceType,
        namespace: str,
        body: Any,
        field_validation: str = STRICT,
        duplicates: Sequence[Duplicate] = (),
        owned: bool = False,
    ) -> Obj:
        if not isinstance(body, dict):
            raise errors.BadRequestError(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                "the request body must be a JSON object",
                [errors.Cause("", "FieldValueInvalid", "the request body must be a JSON object")],
            )
        obj = body if owned else copy.deepcopy(body)
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if api_version is not None and api_version != rt.api_version:
            raise errors.BadRequestError(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})"
            )
        if kind is not None and kind != rt.kind:
            raise errors.BadRequestError(
                f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        if field_validation != STRICT:
            for warning in strict_warnings(rt.kind, obj, duplicates):
                if field_validation == "Warn":
                    recorder.add(warning)
            duplicates = ()
        decode_object(rt.kind, obj, duplicates)
        for key in ("metadata", "spec", "status"):
            if key in obj and obj[key] is None:
                del obj[key]  # null decodes to Go's zero value: an empty struct
        m = meta.meta(obj)
        if rt.namespaced:
            if m.get("namespace") and m["namespace"] != namespace:
                raise errors.BadRequestError(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            m["namespace"] = namespace
        else:
            m.pop("namespace", None)
        return obj

    def _validate(self, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        causes = st.strategy(rt).validate(rt, obj, old)
        if causes:
            raise invalid_error(rt.kind, str(obj["metadata"].get("name", "")), causes)

    def _lookup(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        """An admission plugin's lookup, as Kubernetes' go through a lister: the watch cache's
        object when it has one, else the store (an object made a moment ago may not have
        reached this process's cache yet)."""
        cached = self.cache.cacher(rt).peek(namespace, name)
        return cached if cached is not None else self.store.get(rt.plural, namespace, name)

    def _require_namespace(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        """The Namespace a create goes into; NotFound, or Forbidden while it terminates."""
        live = self._live_namespaces.get(namespace)
        if live is not None and live < time.monotonic():
            self._live_namespaces.pop(namespace, None)
            live = None
        try:
            if live is None:
                ns = self._lookup(NAMESPACES, "", namespace)
            else:
                ns = self.store.get("namespaces", "", namespace)
        except errors.NotFoundError:
            raise errors.NotFoundError(
                f'namespaces "{namespace}" not found',
                details={"name": namespace, "kind": "namespaces"},
            ) from None
        if (ns.get("status") or {}).get("phase") == "Terminating":
            raise errors.ForbiddenError(
                f'{rt.qualified} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                details={"name": name, "kind": rt.plural},
            )
        return ns

    def _service_account(self, namespace: str, name: str) -> Obj | None:
        """A ServiceAccount as the ServiceAccount admission looks it up (cache, then store)."""
        try:
            return self._lookup(SERVICE_ACCOUNTS, namespace, name)
        except errors.NotFoundError:
            return None

    def ensure_namespaces(self) -> None:
        """Create the namespaces every cluster has (idempotent, safe to race)."""
        for name in st.SYSTEM_NAMESPACES:
            with contextlib.suppress(errors.AlreadyExistsError):
                self.create(NAMESPACES, "", {"metadata": {"name": name}})
        # Namespaces stored before every namespace was labelled with its name get the label.
        for ns in self.list(NAMESPACES, "")["items"]:
            m = ns["metadata"]
            if (m.get("labels") or {}).get(NAMESPACE_NAME_LABEL) != m["name"]:
                label = {"metadata": {"labels": {NAMESPACE_NAME_LABEL: m["name"]}}}
                with contextlib.suppress(errors.NotFoundError, errors.ConflictError):
                    self.patch(NAMESPACES, "", m["name"], label, "application/merge-patch+json")


def _ns(rt: ResourceType, namespace: str) -> str:
    return namespace if rt.namespaced else ""


def _same(new: Obj, old: Obj) -> bool:
    strip = ("resourceVersion",)
    a = {**new, "metadata": {k: v for k, v in new["metadata"].items() if k not in strip}}
    b = {**old, "metadata": {k: v for k, v in old["metadata"].items() if k not in strip}}
    return a == b
