"""Hollow nodes, as kubemark's: N of the agent's own ``Agent`` objects in this process, each
with its node token, its API clients and a ``FakeRuntime`` of its own (a pretend container
engine: no container is ever run), registering, renewing their leases, posting node status,
watching their pods, syncing them and reporting their status and events as the agent does.

What the agent runs on threads of its own is shared where its design allows: the periodic loops
(lease, node status, resync) run from one timer and a pool, pod syncs from one pool of workers
over one work queue (keys ``<node>/<uid>``), events through a few senders (each node on one, so
its events keep their order), runtime events through the fake runtime's listeners. Each node
keeps its own pod watch on a thread (a long poll cannot share one); in the benchmark's child
processes these threads are greenlets (``bench/_hollowchild.py``). Nodes serve no node API
(logs, exec). The Lease renewals may run in a process of their own (``leases``: ELSEWHERE in
the nodes' processes, ONLY in that one), with the agent's own loop there too. Effectful
(threads, HTTP).
"""

from __future__ import annotations

import heapq
import itertools
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from agent.apis import NODES
from agent.config import AgentConfig
from agent.events import QUEUE_SIZE, EventSender
from agent.fake_runtime import FakeRuntime
from agent.loop import Agent
from agent.node import TRANSIENT
from agent.periodic import Backoff, Periodic
from bench._hollowwire import Tick
from bench._observe import Answers
from common import errors
from common.client import ApiClient
from common.workqueue import WorkQueue

IMAGE = "tinykube/sleeper:1"
REGISTERING = 32  # nodes registering at once, in all
# Where the nodes' Lease renewals run: with the rest of each node (HERE), in another process
# (ELSEWHERE: this one runs the rest), or only they (ONLY: the Nodes are registered elsewhere).
HERE, ELSEWHERE, ONLY = "here", "elsewhere", "only"
NODE_POLL = 0.5  # seconds between looks for a Node not yet registered, with ONLY


def node_name(i: int) -> str:
    return f"hollow-{i}"


def token_rows(nodes: int, token: str) -> str:
    """Rows of ``tokens.csv`` (the API server's token file) for the hollow nodes' tokens."""
    return "".join(
        f'{token}-{i},system:node:{node_name(i)},system:node:{node_name(i)},"system:nodes"\n'
        for i in range(1, nodes + 1)
    )


class NodeQueue(WorkQueue):
    """One node's view of the shared work queue: its keys there are ``<node>/<uid>``. Only the
    shared workers take keys out, so this view has no ``get``."""

    def __init__(self, shared: WorkQueue, node: str) -> None:
        super().__init__()
        self.shared = shared
        self.prefix = f"{node}/"

    def add(self, key: str) -> None:
        self.shared.add(self.prefix + key)

    def add_after(self, key: str, delay: float) -> None:
        self.shared.add_after(self.prefix + key, delay)

    def done(self, key: str) -> None:
        self.shared.done(self.prefix + key)

    def get(self, timeout: float | None = None) -> str | None:
        raise NotImplementedError("the shared workers take the keys")

    def shutdown(self) -> None:
        """One node stopping leaves the others' keys alone."""


@dataclass
class Timer:
    """Every node's periodic loops from one heap: a thread hands due loops to a pool; a loop is
    due again its own ``tick``'s wait after that tick ends, as on a thread of its own."""

    threads: int
    stop: threading.Event
    ticks: list[Tick] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._heap: list[tuple[float, int, Periodic]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="hollow-timer")
        threading.Thread(target=self._run, name="hollow-timer", daemon=True).start()

    def add(self, loop: Periodic, delay: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), loop))
            self._cond.notify()

    def _run(self) -> None:
        while not self.stop.is_set():
            with self._cond:
                wait = self._heap[0][0] - time.monotonic() if self._heap else 1.0
                if wait > 0:
                    self._cond.wait(min(wait, 1.0))
                    continue
                due, _, loop = heapq.heappop(self._heap)
            self._pool.submit(self._tick, loop, due)

    def _tick(self, loop: Periodic, due: float) -> None:
        if self.stop.is_set():
            return
        failures, start = loop.failures, time.monotonic()
        wait = loop.tick()
        end = time.monotonic()
        self.ticks.append(Tick(loop.name, due, start, end - start, loop.failures > failures))
        self.add(loop, wait)

    def close(self) -> None:
        self.stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)


class HollowNodes:
    """Hollow nodes ``first`` .. ``first + nodes - 1`` against one API server, started by
    ``start``, stopped by ``stop_all``."""

    def __init__(
        self,
        server: str,
        ca_file: str | None,
        token: str,
        nodes: int,
        answers: Answers,
        *,
        workers: int,
        timer_threads: int,
        senders: int,
        first: int = 1,
        root: str | None = None,
        leases: str = HERE,
    ) -> None:
        self.server, self.ca_file, self.token = server, ca_file, token
        self.count = nodes
        self.first = first
        self.answers = answers
        self.stop = threading.Event()
        self.queue = WorkQueue()
        self.timer = Timer(timer_threads, self.stop)
        per_sender = -(-nodes // senders)
        self.senders = [EventSender(QUEUE_SIZE * per_sender) for _ in range(senders)]
        self.workers = workers
        # Each node's pod directories in a directory of its own, removed at the end: a node
        # looks through every pod directory of its root at each resync, as the agent does.
        self.root = root or tempfile.mkdtemp(prefix="tinykube-hollow-")
        if leases not in (HERE, ELSEWHERE, ONLY):
            raise ValueError(f"leases: {leases!r} is none of {HERE}, {ELSEWHERE}, {ONLY}")
        self.leases = leases
        self.agents: dict[str, Agent] = {}  # registered, by node name
        self.made: list[Agent] = []
        self._lock = threading.Lock()

    def _make(self, i: int) -> Agent:
        name = node_name(i)
        config = AgentConfig(
            server=self.server,
            token=f"{self.token}-{i}",
            node_name=name,
            node_ip="127.0.0.1",
            node_api_port=10250,
            data_dir=os.path.join(self.root, name),
        )
        client = ApiClient(self.server, config.token, ca_file=self.ca_file,
                           user_agent=f"tinykube-agent/{name}")  # fmt: skip
        runtime = FakeRuntime((IMAGE,))
        agent = Agent(config, self.answers.hook(client), runtime,
                      queue=NodeQueue(self.queue, name),
                      event_sender=self.senders[i % len(self.senders)])  # fmt: skip
        runtime.listeners.append(agent.on_runtime_event)
        return agent

    def _register(self, i: int) -> None:
        agent = self._make(i)
        with self._lock:
            self.made.append(agent)
        if self.stop.is_set():
            return
        if self.leases == ONLY:
            self._keep_lease(agent)
            return
        agent.prepare(serve_node_api=False)
        agent.watch_own_node()
        self.answers.hook(agent.heartbeat_client)
        with self._lock:
            self.agents[agent.config.node_name] = agent
        for loop in agent.periodic:
            if loop.name != "lease" or self.leases == HERE:
                self.timer.add(loop, loop.first_delay)
        threading.Thread(target=agent.watch_pods, name=f"watch-{i}", daemon=True).start()

    def _keep_lease(self, agent: Agent) -> None:
        """The node's Lease renewals only (the agent's own loop), from the moment its Node is
        registered (by another process, with ``ELSEWHERE``): the Node is the Lease's owner. A
        busy or unreachable server is asked again, as the Node's absence is: a node whose look
        failed once would otherwise never renew, and go NotReady for the harness's sake."""
        name = agent.config.node_name
        uid = None
        while uid is None and not self.stop.is_set():
            try:
                uid = agent.client.get(NODES, name)["metadata"]["uid"]
            except (errors.NotFoundError, *TRANSIENT):
                self.stop.wait(NODE_POLL)
        if uid is None:
            return
        loop = agent.lease_loop(lambda: uid, reconnected=lambda: None)
        self.answers.hook(agent.heartbeat_client)
        with self._lock:
            self.agents[name] = agent
        self.timer.add(loop, loop.first_delay)

    def start(
        self, deadline: float, parallel: int = REGISTERING, order: list[int] | None = None
    ) -> int:
        """Register every node (``parallel`` at a time, as nodes joining, in ``order`` if given),
        with the shared workers running. Gives up at ``deadline``; returns how many nodes
        registered (with ``ONLY``: how many have their Lease kept)."""
        for _ in range(self.workers):
            threading.Thread(target=self._work, name="hollow-worker", daemon=True).start()
        pool = ThreadPoolExecutor(parallel, thread_name_prefix="hollow-register")
        indices = order or range(self.first, self.first + self.count)
        pending = [pool.submit(self._register, i) for i in indices]
        try:
            left = deadline - time.monotonic()
            wait(pending, timeout=None if left == float("inf") else max(0.0, left))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return len(self.agents)

    def pending(self) -> int:
        """Work the nodes have yet to do: pod syncs queued and events waiting to be sent."""
        return len(self.queue) + sum(s.pending for s in self.senders)

    def _work(self) -> None:
        failures: dict[str, Backoff] = {}
        while not self.stop.is_set():
            key = self.queue.get()
            if key is None:
                return
            node, uid = key.split("/", 1)
            agent = self.agents.get(node)
            if agent is None:
                self.queue.done(key)
                continue
            agent.process(uid, failures)

    def stop_all(self) -> None:
        self.stop.set()
        self.timer.close()
        self.queue.shutdown()
        with self._lock:
            agents = list(self.made)
        for agent in agents:
            agent.stopping.set()
            agent.watch_cancel.fire()
            if agent.prober is not None:
                agent.prober.stop()
        shutil.rmtree(self.root, ignore_errors=True)
