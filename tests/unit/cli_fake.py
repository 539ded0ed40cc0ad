"""An in-memory FAKE of the ``ApiClient`` methods tkctl uses (not the real API server), and a
helper running tkctl against it through click's CliRunner. Used by the tkctl unit tests; the real
server is exercised in tests/integration/test_tkctl_api.py."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

from click.testing import CliRunner, Result

from common import errors
from common.client import UnreachableError
from common.patch import json_patch, strategic_merge_patch
from common.resources import ResourceType, lookup
from common.selectors import parse_label_selector
from control.cli.main import cli
from control.cli.session import Session

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - dt.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rt(name: str) -> ResourceType:
    found = lookup(name)
    assert found is not None
    return found


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k), v)
    return out


def _field(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return str(value)


class FakeApi:
    """A FAKE API client: objects in a dict, calls recorded, failures scripted per test."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.rv = 100
        self.linger: dict[str, int] = {}  # name -> GETs that still find it after DELETE
        self.watch_events: list[dict[str, Any]] = []
        self.log_chunks: list[bytes] = [b"line 1\n", b"line 2\n"]
        self.unreachable = False
        self.closed = False
        # name -> evictions of that pod a disruption budget still refuses (429)
        self.budget_refusals: dict[str, int] = {}

    def _check(self) -> None:
        if self.unreachable:
            raise UnreachableError(
                "The connection to the server fake:6443 was refused - did you specify the right "
                "host or port?"
            )

    def add(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        r = rt(kind)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("creationTimestamp", ts(300))
        meta.setdefault("uid", f"uid-{meta['name']}")
        if r.namespaced:
            meta.setdefault("namespace", "default")
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        self.objects[(r.plural, meta.get("namespace"), meta["name"])] = obj
        return obj

    def _key(self, r: ResourceType, name: str, ns: str | None) -> tuple[str, str | None, str]:
        return (r.plural, ns if r.namespaced else None, name)

    def get(self, r: ResourceType, name: str, namespace: str | None = None) -> dict[str, Any]:
        self._check()
        self.calls.append(("get", r.plural, name, namespace))
        obj = self.objects.get(self._key(r, name, namespace))
        if obj is None:
            raise errors.NotFoundError(f'{r.qualified} "{name}" not found')
        if name in self.linger:
            self.linger[name] -= 1
            if self.linger[name] <= 0:
                del self.objects[self._key(r, name, namespace)]
        return copy.deepcopy(obj)

    def list(
        self,
        r: ResourceType,
        namespace: str | None = None,
        *,
        label_selector=None,
        field_selector=None,
    ) -> dict[str, Any]:
        self._check()
        self.calls.append(("list", r.plural, namespace, label_selector, field_selector))
        items = []
        for (plural, ns, _), obj in self.objects.items():
            if plural != r.plural or (namespace and ns != namespace):
                continue
            labels = obj["metadata"].get("labels") or {}
            fields = [p.split("=", 1) for p in (field_selector or "").split(",") if p]
            if parse_label_selector(label_selector or "").matches(labels) and all(
                _field(obj, k) == v for k, v in fields
            ):
                items.append(copy.deepcopy(obj))
        for item in items:  # real servers leave kind/apiVersion off list items
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return {"kind": r.list_kind, "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    def create(self, r: ResourceType, obj: dict[str, Any], namespace: str | None = None):
        self._check()
        self.calls.append(("create", r.plural, copy.deepcopy(obj), namespace))
        name = obj["metadata"].get("name") or obj["metadata"].get("generateName", "") + "x7k2p"
        if not name.islower():
            cause = errors.Cause(
                "metadata.name",
                "FieldValueInvalid",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain',
            )
            raise errors.InvalidError(
                f'{r.kind} "{name}" is invalid: ...', [cause], {"name": name, "kind": r.kind}
            )
        if self._key(r, name, namespace) in self.objects:
            raise errors.AlreadyExistsError(f'{r.qualified} "{name}" already exists')
        stored = copy.deepcopy(obj)
        stored["metadata"]["name"] = name
        return copy.deepcopy(self.add(r.plural, stored))

    def patch(
        self,
        r: ResourceType,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: str = "application/merge-patch+json",
        sub=None,
    ) -> dict[str, Any]:
        self._check()
        self.calls.append(("patch", r.plural, name, copy.deepcopy(patch), patch_type))
        key = self._key(r, name, namespace)
        if key not in self.objects:
            raise errors.NotFoundError(f'{r.qualified} "{name}" not found')
        if sub == "scale":  # the Scale's spec.replicas is the object's
            patch = {"spec": {"replicas": patch["spec"]["replicas"]}}
        apply_patch = {
            "application/strategic-merge-patch+json": strategic_merge_patch,
            "application/json-patch+json": json_patch,
        }.get(patch_type, _merge)
        self.objects[key] = apply_patch(self.objects[key], patch)
        return copy.deepcopy(self.objects[key])

    def delete(
        self,
        r: ResourceType,
        name: str,
        namespace: str | None = None,
        *,
        grace_period_seconds=None,
        propagation_policy=None,
        preconditions=None,
    ):
        self._check()
        self.calls.append(
            ("delete", r.plural, name, namespace, grace_period_seconds, propagation_policy)
        )
        key = self._key(r, name, namespace)
        if key not in self.objects:
            raise errors.NotFoundError(f'{r.qualified} "{name}" not found')
        if name in self.linger:
            self.objects[key]["metadata"]["deletionTimestamp"] = ts(-30)
            return copy.deepcopy(self.objects[key])
        del self.objects[key]
        return {"kind": "Status", "status": "Success"}

    def watch(
        self,
        r: ResourceType,
        namespace=None,
        *,
        resource_version=None,
        label_selector=None,
        field_selector=None,
        timeout_seconds=None,
        allow_bookmarks=True,
    ) -> Iterator[dict[str, Any]]:
        self.calls.append(("watch", r.plural, namespace, resource_version, field_selector))
        yield from self.watch_events

    def stream_lines(self, path: str, params: dict[str, Any] | None = None) -> Iterator[bytes]:
        self._check()
        self.calls.append(("stream", path, params))
        yield from self.log_chunks

    def request_json(self, method: str, path: str, **kw: Any) -> Any:
        self._check()
        if method == "POST" and path.endswith("/eviction"):
            return self._evict(path, kw["body"])
        if path == "/version":
            return {"major": "1", "minor": "35", "gitVersion": "v1.35.0-tinykube"}
        if path == "/apis":
            return {
                "groups": [
                    {
                        "name": "coordination.k8s.io",
                        "preferredVersion": {
                            "groupVersion": "coordination.k8s.io/v1",
                            "version": "v1",
                        },
                    }
                ]
            }
        if path == "/api/v1":
            return {
                "resources": [
                    {
                        "name": "pods",
                        "namespaced": True,
                        "kind": "Pod",
                        "shortNames": ["po"],
                        "verbs": ["get", "list"],
                        "categories": ["all"],
                    },
                    {"name": "pods/log", "namespaced": True, "kind": "Pod"},
                    {"name": "nodes", "namespaced": False, "kind": "Node", "shortNames": ["no"]},
                ]
            }
        if path == "/apis/coordination.k8s.io/v1":
            return {"resources": [{"name": "leases", "namespaced": True, "kind": "Lease"}]}
        raise errors.NotFoundError("the server could not find the requested resource")

    def _evict(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST pods/NAME/eviction: refused while ``budget_refusals`` says so, else a delete."""
        ns, name = path.split("/")[4], path.split("/")[6]
        grace = (body.get("deleteOptions") or {}).get("gracePeriodSeconds")
        self.calls.append(("evict", "pods", name, ns, grace))
        if self.budget_refusals.get(name, 0) > 0:
            self.budget_refusals[name] -= 1
            raise errors.TooManyRequestsError(
                "Cannot evict pod as it would violate the pod's disruption budget."
            )
        self.delete(rt("pods"), name, ns, grace_period_seconds=grace)
        return {"kind": "Status", "status": "Success", "code": 201}

    def close(self) -> None:
        self.closed = True

    def verbs(self) -> list[str]:
        return [c[0] for c in self.calls]


def tk(api: FakeApi, *args: str, input: str | None = None, **session: Any) -> Result:
    """Run ``tkctl ARGS`` against ``api``, with no kubeconfig around and a fixed clock."""
    settings: dict[str, Any] = {"server": "http://fake:6443", "env": {}, "home": "/nonexistent",
                                "sleep": lambda s: None}  # fmt: skip
    settings.update(session)
    obj = Session(client_factory=lambda cfg: api, now=lambda: NOW, **settings)
    return CliRunner().invoke(cli, list(args), obj=obj, input=input)


def running_pod(name: str, **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"app": name}, "creationTimestamp": ts(312), **meta},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "node-1"},
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.5",
            "containerStatuses": [
                {"name": "c", "ready": True, "restartCount": 0, "state": {"running": {}}}
            ],
        },
    }
