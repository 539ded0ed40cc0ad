"""The state one tkctl invocation shares between its commands: global flags, the kubeconfig they
resolve to, and the API client, built by an injectable factory (tests pass a fake one).

Importing this module stays cheap: ``requests`` (through ``common.client``) loads only when a
command first talks to the server.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click

from common.kubeconfig import (
    DEFAULT_PATH,
    ClientConfig,
    KubeconfigError,
    config_paths,
    load,
    resolve,
)

if TYPE_CHECKING:
    from common.resources import ResourceType

F = TypeVar("F", bound=Callable[..., Any])


class Client(Protocol):
    """The part of ``common.client.ApiClient`` that tkctl uses."""

    def get(self, rt: ResourceType, name: str, namespace: str | None = None) -> dict[str, Any]: ...

    def list(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> dict[str, Any]: ...

    def create(
        self, rt: ResourceType, obj: dict[str, Any], namespace: str | None = None
    ) -> dict[str, Any]: ...

    def update(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        namespace: str | None = None,
        sub: str | None = None,
    ) -> dict[str, Any]: ...

    def patch(
        self,
        rt: ResourceType,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: str = ...,
        sub: str | None = None,
    ) -> dict[str, Any]: ...

    def delete(
        self,
        rt: ResourceType,
        name: str,
        namespace: str | None = None,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: dict[str, str] | None = None,
    ) -> dict[str, Any]: ...

    def watch(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
    ) -> Iterator[dict[str, Any]]: ...

    def stream_lines(self, path: str, params: dict[str, Any] | None = None) -> Iterator[bytes]: ...

    def request_json(self, method: str, path: str, **kw: Any) -> Any: ...

    def close(self) -> None: ...


def default_client_factory(config: ClientConfig) -> Client:
    """A real ``ApiClient`` for ``config`` (inline CA data goes to a private temporary file)."""
    from importlib.metadata import version

    from common.client import ApiClient

    ca_file = config.ca_file
    if config.ca_data and not ca_file:
        fd, ca_file = tempfile.mkstemp(prefix="tkctl-ca-", suffix=".crt")
        with os.fdopen(fd, "wb") as f:
            f.write(config.ca_data)
        atexit.register(os.unlink, ca_file)
    return ApiClient(
        config.server,
        config.token,
        ca_file=ca_file,
        insecure=config.insecure,
        user_agent=f"tkctl/{version('tinykube')}",
        on_warning=_print_warning,
    )


_warned: set[str] = set()


def _print_warning(text: str) -> None:
    """kubectl's warning handler: each distinct server warning once, on stderr."""
    if text not in _warned:
        _warned.add(text)
        sys.stderr.write(f"Warning: {text}\n")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _read_stdin() -> str:
    return sys.stdin.read()


@dataclass
class Session:
    """Global flags plus the pieces tests replace (client factory, clock, stdin, sleep)."""

    client_factory: Callable[[ClientConfig], Client] = default_client_factory
    now: Callable[[], dt.datetime] = _utc_now
    read_stdin: Callable[[], str] = _read_stdin
    sleep: Callable[[float], None] = time.sleep
    env: Mapping[str, str] | None = None
    home: str | None = None
    kubeconfig: str | None = None
    namespace: str | None = None
    context: str | None = None
    server: str | None = None
    token: str | None = None
    certificate_authority: str | None = None
    insecure: bool = False
    _config: ClientConfig | None = field(default=None, repr=False)
    _client: Client | None = field(default=None, repr=False)

    def config(self) -> ClientConfig:
        """The connection settings: the kubeconfig's context, overridden by the flags."""
        if self._config is None:
            self._config = self._resolve()
        return self._config

    def _resolve(self) -> ClientConfig:
        env = os.environ if self.env is None else self.env
        paths, explicit = config_paths(self.kubeconfig, env, self.home)
        loaded = load(paths, explicit)
        if loaded is None or (self.server and not self.context and not loaded["contexts"]):
            if not self.server:
                raise KubeconfigError(
                    "no configuration has been provided, try setting KUBECONFIG, passing "
                    f"--kubeconfig or --server, or starting a cluster with 'tinykube up' "
                    f"(no file at {DEFAULT_PATH if not env.get('KUBECONFIG') else paths[0]})"
                )
            cfg = ClientConfig(server=self.server)
        else:
            cfg = resolve(loaded, self.context)
        return replace(
            cfg,
            server=self.server or cfg.server,
            token=self.token or cfg.token,
            ca_file=self.certificate_authority or cfg.ca_file,
            insecure=self.insecure or cfg.insecure,
        )

    def client(self) -> Client:
        if self._client is None:
            self._client = self.client_factory(self.config())
        return self._client

    @property
    def default_namespace(self) -> str:
        """``-n``, else the context's namespace, else ``default``."""
        return self.namespace or self.config().namespace

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def session_of(ctx: click.Context) -> Session:
    return ctx.ensure_object(Session)


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is not None and value is not False and param.name:
        setattr(session_of(ctx), param.name, value)


_GLOBALS = (
    click.option("--kubeconfig", metavar="PATH", help="Path to the kubeconfig file to use."),
    click.option("-n", "--namespace", metavar="NS", help="The namespace scope for this request."),
    click.option("--context", metavar="NAME", help="The kubeconfig context to use."),
    click.option("-s", "--server", metavar="URL", help="The address of the API server."),
    click.option("--token", metavar="TOKEN", help="Bearer token for the API server."),
    click.option("--certificate-authority", metavar="PATH", help="Path to a CA certificate file."),
    click.option(
        "--insecure-skip-tls-verify",
        "insecure",
        is_flag=True,
        default=False,
        help="Do not check the server's certificate (insecure).",
    ),
)


def global_options(f: F) -> F:
    """kubectl's global flags, accepted before or after the command name."""
    for decorator in reversed(_GLOBALS):
        f = decorator(f)
    for param in f.__click_params__:  # type: ignore[attr-defined]
        if param.name in {"kubeconfig", "namespace", "context", "server", "token",
                          "certificate_authority", "insecure"}:  # fmt: skip
            param.expose_value = False
            param.callback = _store
    return f
