"""What the EndpointSlice controller last wrote, as Kubernetes' EndpointSliceTracker: the
generation of every slice it created or updated and the slices it deleted, per Service. A sync
whose cache has not yet seen those writes is stale (it would create a slice twice), and the
informer events of the controller's own writes need no sync. Thread-safe; no I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from common.wellknown import SLICE_SERVICE_LABEL

DELETION_EXPECTED = -1


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def service_key(slice_: Mapping[str, Any]) -> str:
    """``namespace/service`` of a slice, by its service-name label ("" without one)."""
    m = _meta(slice_)
    name = (m.get("labels") or {}).get(SLICE_SERVICE_LABEL)
    return f"{m.get('namespace') or ''}/{name}" if name else ""


def _generation(slice_: Mapping[str, Any]) -> int:
    return int(_meta(slice_).get("generation") or 0)


class SliceTracker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_service: dict[str, dict[str, int]] = {}

    def update(self, slice_: Mapping[str, Any]) -> None:
        """Remember a slice as the controller wrote it (the object the server answered)."""
        with self._lock:
            gens = self._by_service.setdefault(service_key(slice_), {})
            gens[str(_meta(slice_).get("uid"))] = _generation(slice_)

    def expect_deletion(self, slice_: Mapping[str, Any]) -> None:
        with self._lock:
            gens = self._by_service.setdefault(service_key(slice_), {})
            gens[str(_meta(slice_).get("uid"))] = DELETION_EXPECTED

    def should_sync(self, slice_: Mapping[str, Any]) -> bool:
        """A slice event needs a sync unless it shows the controller's own last write."""
        with self._lock:
            gens = self._by_service.get(service_key(slice_), {})
            seen = gens.get(str(_meta(slice_).get("uid")))
            return seen is None or _generation(slice_) > seen

    def handle_deletion(self, slice_: Mapping[str, Any]) -> bool:
        """Forget a deleted slice; False if the controller did not delete it (sync again)."""
        with self._lock:
            gens = self._by_service.get(service_key(slice_))
            if gens is None:
                return True
            seen = gens.pop(str(_meta(slice_).get("uid")), None)
            return seen is None or seen == DELETION_EXPECTED

    def stale(self, key: str, slices: Iterable[Mapping[str, Any]]) -> bool:
        """Whether the cached ``slices`` of Service ``key`` miss one of the controller's writes:
        an older generation, a slice it deleted, or one it created that is not there yet."""
        with self._lock:
            gens = dict(self._by_service.get(key, {}))
        present: set[str] = set()
        for s in slices:
            uid = str(_meta(s).get("uid"))
            present.add(uid)
            seen = gens.get(uid)
            if seen is not None and (seen == DELETION_EXPECTED or seen > _generation(s)):
                return True
        return any(g != DELETION_EXPECTED and uid not in present for uid, g in gens.items())

    def delete_service(self, key: str) -> None:
        with self._lock:
            self._by_service.pop(key, None)
