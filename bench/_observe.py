"""What ``bench/scale.py`` watches while it runs: answers counted on every client it makes (5xx,
and the moment a node's status write reports a pod Running), a watch of every pod (bound,
deleted) and of every node (Ready), GET and LIST timed in a loop, the control-plane processes in
``/proc`` and Redis's ``INFO memory``. Effectful (HTTP, /proc, Redis)."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import requests

from common import errors
from common.client import ApiClient
from common.resources import must

PODS, NODES = must("pods"), must("nodes")
_STATUS_PATH = re.compile(r"/api/v1/namespaces/([^/]+)/pods/([^/?]+)/status")
_RUNNING = b'"phase": "Running"'
# How often the sampler GETs a pod, and pauses between LISTs of every pod: a LIST of 10,000
# pods is some 20 MB of JSON for the server to write, a load of its own the run must not add.
GET_EVERY = 0.05
LIST_PAUSE = 5.0
REPO = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class Answers:
    """Counts 5xx answers on every client it is hooked into, and the first moment each pod's
    status write came back saying Running (what the node reports, not what a watch sees)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.errors_5xx = 0
        # 5xx answers by (code, method, what): what the server refused, to tell them apart.
        self.by_kind: Counter[str] = Counter()
        # The first message the server gave for each kind of 5xx (why it refused).
        self.first_message: dict[str, str] = {}
        self.running: dict[str, float] = {}

    def hook(self, client: ApiClient) -> ApiClient:
        client.session.hooks["response"].append(self._seen)
        return client

    def _seen(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        now = time.monotonic()
        if resp.status_code >= 500:
            what = _what(resp.request.url or "")
            kind = f"{resp.status_code} {resp.request.method} {what}"
            with self.lock:
                self.errors_5xx += 1
                self.by_kind[kind] += 1
                if kind not in self.first_message:
                    self.first_message[kind] = _message(resp)
        req = resp.request
        if req.method != "PUT" or resp.status_code != 200 or not isinstance(req.body, bytes):
            return
        match = _STATUS_PATH.search(req.url or "")
        if match and _RUNNING in req.body:
            with self.lock:
                self.running.setdefault(f"{match[1]}/{match[2]}", now)


def server_buckets(client: ApiClient, verb: str, resource: str) -> list[tuple[float, float]]:
    """The API server's own ``apiserver_request_duration_seconds`` buckets of ``verb`` on
    ``resource`` (no subresource), summed over its labels: ``(le, cumulative count)``. Empty
    when the server does not answer ``/metrics``."""
    try:
        resp = client.session.get(client.server + "/metrics", timeout=30)
    except requests.RequestException:
        return []
    if resp.status_code != 200:
        return []
    sums: dict[float, float] = {}
    for line in resp.text.splitlines():
        if not line.startswith("apiserver_request_duration_seconds_bucket{"):
            continue
        labels = dict(_LABEL.findall(line))
        if (labels.get("verb"), labels.get("resource")) != (verb, resource):
            continue
        if labels.get("subresource"):
            continue
        le = float(labels["le"]) if labels.get("le") != "+Inf" else float("inf")
        sums[le] = sums.get(le, 0.0) + float(line.rsplit(" ", 1)[1])
    return list(sums.items())


_LABEL = re.compile(r'(\w+)="([^"]*)"')


def _message(resp: requests.Response) -> str:
    """The Status message of an error answer (its text when it is not a Status), cut short."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:160]
    return str(body.get("message", ""))[:160] if isinstance(body, dict) else str(body)[:160]


def _what(url: str) -> str:
    """The kind of request a URL is (``pods/status``, ``leases``, ``pods watch``...)."""
    path, _, query = url.partition("?")
    parts = [p for p in path.split("/") if p]
    resource = next((p for p in reversed(parts) if p in _KINDS), "other")
    sub = parts[-1] if parts and parts[-1] in ("status", "binding") else ""
    watch = " watch" if "watch=" in query else ""
    return f"{resource}{'/' + sub if sub else ''}{watch}"


_KINDS = ("pods", "nodes", "leases", "events", "namespaces")


class _Follower:
    """List then watch one resource in a thread, again after any failure, until stopped."""

    def __init__(self, client: ApiClient, rt: Any, name: str) -> None:
        self.client = client
        self.rt = rt
        self.stop = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                listed = self.client.list(self.rt)
                for obj in listed.get("items") or []:
                    self.on_object("ADDED", obj)
                rv = listed["metadata"]["resourceVersion"]
                for event in self.client.watch(self.rt, resource_version=rv, timeout_seconds=300):
                    if self.stop.is_set():
                        return
                    if event["type"] != "BOOKMARK":
                        self.on_object(event["type"], event["object"])
            except (errors.ApiError, KeyError, ValueError):
                self.stop.wait(1.0)

    def on_object(self, kind: str, obj: dict[str, Any]) -> None:
        raise NotImplementedError


class PodWatch(_Follower):
    """When each pod was first seen bound; which pods were deleted or given a deletion."""

    def __init__(self, client: ApiClient) -> None:
        self.bound: dict[str, float] = {}
        self.deleted: set[str] = set()
        super().__init__(client, PODS, "bench-pod-watch")

    def on_object(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        key = f"{meta.get('namespace')}/{meta['name']}"
        with self.lock:
            if kind == "DELETED" or meta.get("deletionTimestamp"):
                self.deleted.add(key)
            if (obj.get("spec") or {}).get("nodeName"):
                self.bound.setdefault(key, time.monotonic())


class NodeWatch(_Follower):
    """Which nodes are Ready now, and the fewest Ready since ``arm``."""

    def __init__(self, client: ApiClient) -> None:
        self.ready: set[str] = set()
        self.lowest: int | None = None
        super().__init__(client, NODES, "bench-node-watch")

    def on_object(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        conditions = (obj.get("status") or {}).get("conditions") or []
        ok = kind != "DELETED" and any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
        )
        with self.lock:
            (self.ready.add if ok else self.ready.discard)(name)
            if self.lowest is not None:
                self.lowest = min(self.lowest, len(self.ready))

    def arm(self) -> None:
        with self.lock:
            self.lowest = len(self.ready)


class Sampler:
    """GET of a pod already created and LIST of every pod, each in a loop of its own, timed:
    each call is one ``(sent, seconds)`` pair, appended at once (a reader never sees a send
    time without its duration); ``sent`` is ``time.monotonic``, one clock for every process of
    the machine."""

    def __init__(self, client: ApiClient, names: Callable[[], list[str]]) -> None:
        self.client = client
        self.names = names
        self.get: list[tuple[float, float]] = []
        self.list: list[tuple[float, float]] = []
        self.stop = threading.Event()
        for call, into, pause in ((self._get, self.get, GET_EVERY),
                                  (self._list, self.list, LIST_PAUSE)):  # fmt: skip
            threading.Thread(target=self._loop, args=(call, into, pause), daemon=True).start()

    def _get(self) -> bool:
        names = self.names()
        if not names:
            return False
        namespace, name = random.choice(names).split("/", 1)
        self.client.request("GET", PODS.path(namespace, name)).content  # noqa: B018
        return True

    def _list(self) -> bool:
        self.client.request("GET", PODS.path(None)).content  # noqa: B018
        return True

    def _loop(
        self, call: Callable[[], bool], into: list[tuple[float, float]], pause: float
    ) -> None:
        while not self.stop.wait(pause):
            t0 = time.monotonic()
            try:
                if not call():
                    continue
            except errors.ApiError:
                pass  # an error answer is a slow answer too
            into.append((t0, time.monotonic() - t0))


class SamplerProcess:
    """``Sampler`` in a process of its own (``bench/_sampler.py``), fed the names of the pods
    created so far (``names``, read every 0.2 s), so that its timings are the server's and the
    machine's, not this busy process's GIL's. ``finish`` stops it and adds its 5xx answers to
    ``answers``; ``get`` (sent at ``get_at``), ``list`` and ``cpu_seconds`` are its figures
    then."""

    def __init__(self, admin: ApiClient, names: Callable[[], list[str]], answers: Answers) -> None:
        verify = admin.session.verify
        config = {"server": admin.server, "ca": verify if isinstance(verify, str) else None,
                  "authorization": admin.session.headers.get("Authorization", "")}  # fmt: skip
        # A session of its own, as a client on a machine of its own: where the kernel shares
        # the CPU among sessions (autogroup), a call is then not queued behind the benchmark's
        # own busy threads.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench._sampler", json.dumps(config)], cwd=REPO,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            start_new_session=True)  # fmt: skip
        self.names, self.answers = names, answers
        self.get: list[float] = []
        self.get_at: list[float] = []
        self.list: list[float] = []
        self.stop = threading.Event()
        self._feeder = threading.Thread(target=self._feed, daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        sent = 0
        assert self.proc.stdin is not None
        while not self.stop.wait(0.2):
            names = self.names()
            if len(names) > sent:
                self.proc.stdin.write("".join(f"{n}\n" for n in names[sent:]))
                self.proc.stdin.flush()
                sent = len(names)

    def cpu_seconds(self) -> float:
        """Its CPU time so far, from /proc (0 once it has exited)."""
        return _cpu_and_rss(self.proc.pid)[0]

    def finish(self) -> None:
        """Stop sampling and take its figures (once)."""
        if self.stop.is_set():
            return
        self.stop.set()
        self._feeder.join()
        out, _ = self.proc.communicate(timeout=120)
        report = json.loads(out.strip().splitlines()[-1])
        self.get, self.get_at, self.list = report["get"], report["get_at"], report["list"]
        with self.answers.lock:
            self.answers.errors_5xx += report["errors_5xx"]
            self.answers.by_kind.update(report["by_kind"])
            for kind, message in report["first_message"].items():
                self.answers.first_message.setdefault(kind, message)


def _children(pid: int) -> list[int]:
    """Each thread lists the children it started (a controller process may come from any)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def process_tree(root: int) -> list[int]:
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(_children(pid))
    return out


def _cpu_and_rss(pid: int) -> tuple[float, int]:
    """CPU seconds of the process and of its children it has waited for, and its RSS bytes."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        statm = Path(f"/proc/{pid}/statm").read_text()
    except OSError:
        return 0.0, 0
    fields = stat.rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / CLK_TCK, int(statm.split()[1]) * PAGE


def _pss(pid: int) -> int:
    """The process's proportional set size in bytes: its RSS with each page it shares (the
    forked API workers with the master) counted as its share of it; 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


# The roles of the control plane's processes, as its RSS peak is told apart.
MASTER, API_WORKERS, CONTROLLERS = "gunicorn master", "API workers", "controller process"


def role(root: int, pid: int) -> str:
    """MASTER (the ``control`` command, gunicorn's master), CONTROLLERS (the process it starts
    for the controllers) or API_WORKERS (any other child: the forked workers)."""
    if pid == root:
        return MASTER
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return API_WORKERS
    return CONTROLLERS if b"control.controllerprocess" in cmdline else API_WORKERS


class ControlPlane:
    """The control plane's processes (its command and everything it started: API workers,
    controller process): CPU seconds and RSS summed, the RSS peak sampled every second (in all
    and of each role, each role's peak on its own), and the peak of their summed PSS (RSS counts
    the pages the forked workers share with the master once in each of them)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_by_role: dict[str, int] = {}
        self.stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def now(self) -> tuple[int, float, int]:
        """(processes, CPU seconds, RSS bytes)."""
        pids = process_tree(self.pid)
        samples = [_cpu_and_rss(p) for p in pids]
        return len(pids), sum(c for c, _ in samples), sum(r for _, r in samples)

    def _sample(self) -> None:
        while not self.stop.wait(1.0):
            pids = process_tree(self.pid)
            by_role: dict[str, int] = {}
            for pid in pids:
                name = role(self.pid, pid)
                by_role[name] = by_role.get(name, 0) + _cpu_and_rss(pid)[1]
            self.peak_rss = max(self.peak_rss, sum(by_role.values()))
            for name, rss in by_role.items():
                self.peak_by_role[name] = max(self.peak_by_role.get(name, 0), rss)
            self.peak_pss = max(self.peak_pss, sum(map(_pss, pids)))


def redis_used_memory(data_dir: Path, port: int) -> int | None:
    """Redis's ``used_memory`` (bytes); the embedded Redis's password is in its data dir."""
    secret = data_dir / "redis-password"
    password = secret.read_text().strip() if secret.exists() else None
    try:
        conn = redis.Redis(port=port, password=password, socket_timeout=10)
        try:
            return int(conn.info("memory")["used_memory"])
        finally:
            conn.close()
    except (redis.RedisError, KeyError, ValueError):
        return None
