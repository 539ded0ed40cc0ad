"""The EndpointSlice and Endpoints strategies: port defaults, and an EndpointSlice
``generation`` that counts every change but to metadata other than labels, as kube-apiserver's
endpointSliceStrategy does (the EndpointSlice controller tells its own writes from others' by
it). Registers itself in ``strategies.STRATEGIES``. Pure: objects in, objects out.
"""

from __future__ import annotations

import datetime as dt

from common import meta
from common.resources import ResourceType
from control.registry.strategies import STRATEGIES, Obj, Strategy
from control.validation.discovery import default_endpoint_slice, default_endpoints


def _body(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "kind", "apiVersion")}


class EndpointSliceStrategy(Strategy):
    always_generation = True

    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        self.default(obj)

    def prepare_update(self, rt: ResourceType, new: Obj, old: Obj) -> None:
        super().prepare_update(rt, new, old)
        nm, om = meta.meta(new), meta.meta(old)
        changed = _body(new) != _body(old) or (nm.get("labels") or {}) != (om.get("labels") or {})
        nm["generation"] = int(om.get("generation") or 0) + (1 if changed else 0)

    def default(self, obj: Obj) -> None:
        default_endpoint_slice(obj)


class EndpointsStrategy(Strategy):
    def prepare_create(self, rt: ResourceType, obj: Obj, now: dt.datetime) -> None:
        super().prepare_create(rt, obj, now)
        self.default(obj)

    def default(self, obj: Obj) -> None:
        default_endpoints(obj)


STRATEGIES[("discovery.k8s.io", "endpointslices")] = EndpointSliceStrategy()
STRATEGIES[("", "endpoints")] = EndpointsStrategy()
