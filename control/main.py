"""``tinykube control`` (``python -m control``): the API server under gunicorn (one gthread
worker, many threads: every open watch or log stream holds one) with the control loops running in
that worker. Entry point: parses flags, configures logging, serves until SIGTERM.

The in-flight caps are the one worker's, so the whole server's: its thread pool is sized to their
sum plus a reserve, so that a request under the caps always finds a thread and one over them is
refused with 429 instead of waiting in the pool's queue (docs/back-pressure.md)."""

from __future__ import annotations

import argparse
import logging
import math
import os
import resource
import sys
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.config import KNOWN_SETTINGS

from common import errors
from control import httpworker, lifecycle, redisauth, serverdata
from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator
from control.apiserver.inflight import Limits
from control.controllers import nodelifecycle, podgc
from control.informers import SharedInformers
from control.manager import Manager, default_loops
from control.registry.registry import Registry
from control.validation import podsecurity

log = logging.getLogger("tinykube.control")

# Threads beyond the in-flight caps, for what they do not refuse: system:masters over the caps,
# the health probes.
EXEMPT_THREADS = 32
# Connections the worker keeps beyond its threads: kept alive between requests, or not yet speaking.
IDLE_CONNECTIONS = 1000


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="tinykube control", description=__doc__)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--redis-prefix", default="tk:")
    redisauth.add_flags(p)
    p.add_argument("--bind-address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=6443)
    p.add_argument("--token-auth-file", type=Path, help="default: DATA/tokens.csv (made once)")
    p.add_argument("--threads", type=int, metavar="N",
                   help=f"worker threads (default: the caps' sum + {EXEMPT_THREADS})")  # fmt: skip
    add_limit_flags(p)
    p.add_argument("--allow-privileged", action="store_true")
    p.add_argument(
        "--pod-security-defaults", type=_pod_security, default=podsecurity.DEFAULTS,
        metavar="MODE=LEVEL,...",
        help="Pod Security admission for namespaces without pod-security.kubernetes.io labels, "
        "with the keys of kube-apiserver's PodSecurityConfiguration defaults: enforce, "
        "enforce-version, audit, audit-version, warn, warn-version (default: %(default)s)",
    )  # fmt: skip
    p.add_argument("--no-controllers", action="store_true", help="serve the API only")
    nodelifecycle.add_flags(p)
    podgc.add_flags(p)
    for which in ("not-ready", "unreachable"):
        p.add_argument(
            f"--default-{which}-toleration-seconds", type=int, metavar="N",
            help=f"tolerationSeconds of the {which}:NoExecute toleration added to every pod "
            "without one (default: --pod-eviction-timeout, rounded up)",
        )  # fmt: skip
    serverdata.add_flags(p)
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def add_limit_flags(p: argparse.ArgumentParser) -> None:
    d = Limits()
    flags = (
        ("--max-requests-inflight", d.readonly, "read-only requests served at once (0: no cap)"),
        ("--max-mutating-requests-inflight", d.mutating, "other requests served at once"),
        ("--max-long-running-requests", d.long_running,
         "watches, log streams and exec sessions of non-admin users open at once"),
        ("--max-long-running-requests-per-user", d.long_running_per_user,
         "watches, log streams and exec sessions one non-admin user may hold"),
    )  # fmt: skip
    for flag, default, text in flags:
        p.add_argument(flag, type=int, default=default, metavar="N", help=f"{text}; more get 429")
    p.add_argument(
        "--read-header-timeout",
        type=float,
        default=httpworker.DEFAULT_HEAD_TIMEOUT,
        metavar="SECONDS",
        help="time for a connection's TLS handshake and request head",
    )


def limits_from(args: argparse.Namespace) -> Limits:
    return Limits(
        readonly=args.max_requests_inflight,
        mutating=args.max_mutating_requests_inflight,
        long_running=args.max_long_running_requests,
        long_running_per_user=args.max_long_running_requests_per_user,
    )


def thread_count(args: argparse.Namespace, limits: Limits) -> int:
    if args.threads is None:
        return limits.threads() + EXEMPT_THREADS
    if args.threads < limits.threads():
        log.warning(
            "--threads %d is below the sum of the in-flight caps (%d): requests over the threads "
            "wait in the queue instead of being told to come back later",
            args.threads, limits.threads(),
        )  # fmt: skip
    return int(args.threads)


def raise_open_file_limit() -> None:
    """Raise the soft limit on open files to the hard one, as every Go program (kube-apiserver
    among them) does at start: each connection and each thread's Redis connection holds a file,
    more than the usual soft limit of 1024 once the threads are sized to the caps."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as e:
            log.warning("open files: cannot raise the limit from %d: %s", soft, e)


def _pod_security(text: str) -> str:
    try:
        podsecurity.parse_defaults(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def default_tolerations(args: argparse.Namespace) -> tuple[int, int]:
    """The DefaultTolerationSeconds admission's seconds: the eviction timeout unless given, so
    that one flag says how long a pod stays on a lost node."""
    fallback = math.ceil(args.pod_eviction_timeout)
    not_ready = args.default_not_ready_toleration_seconds
    unreachable = args.default_unreachable_toleration_seconds
    return (
        fallback if not_ready is None else not_ready,
        fallback if unreachable is None else unreachable,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    limits = limits_from(args)
    threads = thread_count(args, limits)
    raise_open_file_limit()
    try:
        # A Redis connection for every thread that may need one at once.
        store = redisauth.connect(args, max_connections=threads)
    except errors.StoreCredentialsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: cannot read the Redis password: {e}", file=sys.stderr)
        return 1
    server = serverdata.setup(args, store)
    auth = TokenAuthenticator.from_file(server.token_file, source=server.tokens)
    config = ServerConfig(
        allow_privileged=args.allow_privileged,
        pod_security=podsecurity.parse_defaults(args.pod_security_defaults),
        default_tolerations=default_tolerations(args),
        limits=limits,
        extra=server.extra,
        heartbeats=nodelifecycle.heartbeat_policy_from(args),
    )
    app = create_app(store, auth, config)
    registry: Registry = app.extensions["tinykube"]["registry"]
    registry.ensure_namespaces()

    def post_worker_init(worker: Any) -> None:
        if not args.no_controllers:
            informers = SharedInformers(registry)
            loops = default_loops(
                registry,
                nodelifecycle.config_from(args),
                args.terminated_pod_gc_threshold,
                informers=informers,
            )
            loops += server.loops(registry, informers)
            Manager(registry, loops=loops, informers=informers).start()

    options = {
        "bind": f"{args.bind_address}:{args.port}",
        "workers": 1,
        "worker_class": httpworker.worker_class(args.read_header_timeout),
        "threads": threads,
        "worker_connections": threads + IDLE_CONNECTIONS,
        "timeout": 60,
        "graceful_timeout": 5,
        "keepalive": 75,
        "accesslog": "-" if args.verbose else None,
        "loglevel": "debug" if args.verbose else "info",
        "post_worker_init": post_worker_init,
        # SIGINT/SIGQUIT is a quick shutdown: leave at once instead of waiting for the request
        # threads (open watches) to notice. Every write is one atomic script, so nothing is
        # left half done.
        "worker_int": lambda worker: os._exit(0),
        "post_fork": lifecycle.post_fork,
        **lifecycle.control_socket_options(
            server.data.directory if server.data else None,
            {setting.name for setting in KNOWN_SETTINGS},
        ),
        **server.gunicorn,
    }
    _Server(app, options).run()
    return 0
