"""``tinykube control`` (``python -m control``): the API server under gunicorn, one gevent worker
per CPU (each connection a greenlet, so open watches and streams cost no thread), and the
controller manager in a process of its own that the gunicorn master starts, restarts and stops
(``control.controllerprocess``). Entry point: reads the flags, prepares the data dir, serves until
SIGTERM. Why this shape: docs/serving.md.

The in-flight caps are each worker's, as kube-apiserver's are each replica's; a worker takes as
many connections as its caps admit plus idle ones (docs/back-pressure.md)."""

from __future__ import annotations

import logging
import os
import resource
import sys
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.config import KNOWN_SETTINGS

from common import errors, metrics
from control import encryption, flags, httpworker, lifecycle, redisauth, serverdata
from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator
from control.apiserver.inflight import Limits
from control.controllerprocess import Supervisor
from control.controllers.serviceaccounts import ensure_default_accounts
from control.flags import default_tolerations, limits_from, parse_args
from control.registry.apiendpoints import advertise_address, ensure_api_endpoints
from control.registry.defaultpriority import ensure_system_priority_classes
from control.registry.defaultservices import ensure_default_services
from control.registry.defaultstorage import ensure_default_storage_class
from control.registry.registry import Registry

log = logging.getLogger("tinykube.control")

# Connections a worker holds beyond what its caps admit: system:masters over the caps, probes,
# connections kept alive between requests or not yet speaking.
SPARE_CONNECTIONS = 2000
# Redis connections of each API worker for stream reads: until watches share one reader per
# resource, each open watch holds one while its XREAD blocks; more watches wait their turn.
STREAM_CONNECTIONS = 1024

__all__ = ["default_tolerations", "limits_from", "main", "parse_args"]


def worker_connections(limits: Limits) -> int:
    """Connections one worker serves at once (gevent's pool): every request its caps admit, and
    the spare ones. Beyond it, connections wait in the listen backlog for a free worker."""
    return limits.connections() + SPARE_CONNECTIONS


def raise_open_file_limit() -> None:
    """Raise the soft limit on open files to the hard one, as every Go program (kube-apiserver
    among them) does at start: each client connection and each Redis connection holds a file,
    and a worker serves thousands of connections, beyond the usual soft limit of 1024. The
    workers and the controller process inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as e:
            log.warning("open files: cannot raise the limit from %d: %s", soft, e)


class _Arbiter(Arbiter):  # type: ignore[misc]
    """gunicorn's master, which also keeps the controller process running beside its workers.
    Its first pass only forks the workers: the controller process starts from the next pass
    (within a second), once the master has made its control socket and the workers boot
    without an interpreter starting beside them."""

    passes = 0

    def spawn_workers(self) -> None:
        if self.passes:
            super().spawn_workers()  # a worker replaced: gunicorn's staggered spawning
            return
        # The first workers at once, without gunicorn's random pauses between them: the master
        # makes its control socket right after this, before any of them answers a request.
        for _ in range(self.num_workers - len(self.WORKERS)):
            self.spawn_worker()

    def manage_workers(self) -> None:
        super().manage_workers()
        self.passes += 1
        if self.app.controllers is not None and self.passes > 1:
            self.app.controllers.ensure()


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(
        self, app: Any, options: dict[str, Any], controllers: Supervisor | None = None
    ) -> None:
        self.application = app
        self.options = options
        self.controllers = controllers
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application

    def run(self) -> None:
        try:
            _Arbiter(self).run()
        finally:
            if self.controllers is not None:
                self.controllers.stop()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    limits = limits_from(args)
    raise_open_file_limit()
    try:
        store = redisauth.connect(args, stream_connections=STREAM_CONNECTIONS)
    except errors.StoreCredentialsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except encryption.ConfigError as e:
        print(f"error: --encryption-provider-config: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: cannot read the Redis password: {e}", file=sys.stderr)
        return 1
    refusal = redisauth.unreadable_values(args, store)
    if refusal is not None:
        print(f"error: {refusal}", file=sys.stderr)
        return 1
    try:
        server = serverdata.setup(args, store)
    except serverdata.SigningKeyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    auth = TokenAuthenticator.from_file(server.token_file, source=server.tokens)
    config = ServerConfig(
        limits=limits,
        extra=server.extra,
        service_accounts=server.service_accounts,
        **flags.admission(args),
    )
    app = create_app(store, auth, config)
    registry: Registry = app.extensions["tinykube"]["registry"]
    # The master forks the workers: its start-up writes read the store without starting a
    # watch cache (each worker starts its own on first use).
    with registry.cache.snapshots():
        registry.ensure_namespaces()
        if config.service_accounts is not None:
            ensure_default_accounts(registry)
        ensure_default_services(registry, args.port)
        ensure_default_storage_class(registry)
        ensure_system_priority_classes(registry)
        advertised = advertise_address(
            args.advertise_address or args.pod_network_address, args.bind_address
        )
        ensure_api_endpoints(registry, advertised, args.port)
    workers = flags.workers(args)
    where = "none (--no-controllers)" if args.no_controllers else "in a process of their own"
    log.info("API server: %d workers; controllers: %s", workers, where)
    options = {
        "bind": flags.binds(args),
        "workers": workers,
        "worker_class": httpworker.worker_class(args.read_header_timeout),
        "worker_connections": worker_connections(limits),
        "timeout": 60,
        "graceful_timeout": 5,
        "keepalive": 75,
        **httpworker.NO_FORWARDING,
        "accesslog": "-" if args.verbose else None,
        "loglevel": "debug" if args.verbose else "info",
        # SIGINT/SIGQUIT is a quick shutdown: leave at once instead of waiting for open
        # watches to end. Every write is one atomic script, so nothing is left half done.
        "worker_int": lambda worker: os._exit(0),
        "pre_fork": lifecycle.pre_fork,
        "post_fork": lifecycle.post_fork,
        "child_exit": lambda _server, worker: metrics.process_exited(worker.pid),
        **lifecycle.control_socket_options(
            server.data.directory if server.data else None,
            {setting.name for setting in KNOWN_SETTINGS},
        ),
        **server.gunicorn,
    }
    controllers = None if args.no_controllers else Supervisor(argv, server.token_file)
    _Server(app, options, controllers).run()
    return 0
