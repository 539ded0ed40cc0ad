"""HTTP client for the tinykube (Kubernetes-shaped) API, used by tkctl, the agent and the tests.

It speaks the REST paths of ``common.resources`` with a bearer token and turns every failure into
the ``common.errors`` tree: a ``Status`` answer becomes its class, a refused connection becomes
``UnreachableError``. ``requests`` exceptions never leave this module.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from common import errors, fastjson
from common.resources import ResourceType
from common.transport import Transport

log = logging.getLogger(__name__)

# Long enough for a slow list on a loaded 2-core machine, short enough to notice a dead server.
DEFAULT_TIMEOUT = 30.0
CONNECT_TIMEOUT = 10.0
# Size of the connection pool: the agent runs several pod workers and a watch at once.
POOL_SIZE = 32
# Answers that ask to be retried later (429 and Retry-After) are retried this often at most,
# client-go's default.
MAX_RETRIES = 10

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class UnreachableError(errors.ServiceUnavailableError):
    """The API server could not be reached at all (connection refused, DNS, TLS)."""


class WatchCancel:
    """Ends the watch it is passed to from another thread: ``fire`` shuts the stream's socket
    down, and the watch then ends as if the server had closed it. For a stream that may be dead
    without anyone knowing (a network partition drops packets, it sends no reset)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resp: requests.Response | None = None
        self.fired = False

    def _attach(self, resp: requests.Response | None) -> None:
        """The watch's stream (None once it ended); ``fired`` says how the last one ended until
        the next one starts."""
        with self._lock:
            self._resp = resp
            if resp is not None:
                self.fired = False

    def fire(self) -> bool:
        """End the current watch; False if none is open."""
        with self._lock:
            if self._resp is None:
                return False
            self.fired = True
            try:
                self._resp.raw.shutdown()
            except (OSError, RuntimeError, ValueError) as e:  # already closed or released
                log.debug("watch: shutting the stream down: %s", e)
            return True


_WARNING = re.compile(r'\d{3} \S+ ("(?:[^"\\]|\\.)*")')


def warning_texts(header: str) -> list[str]:
    """The texts of ``Warning: 299 - "text"`` headers (several arrive joined by commas)."""
    out = []
    for match in _WARNING.finditer(header):
        try:
            out.append(str(json.loads(match.group(1))))
        except ValueError:
            out.append(match.group(1)[1:-1])
    return out


class ApiClient:
    """A thread-safe client for one API server."""

    def __init__(
        self,
        server: str,
        token: str | None = None,
        *,
        ca_file: str | None = None,
        insecure: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        user_agent: str = "tinykube",
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        # Called with the text of each Warning header a response carries (client-go's
        # WarningHandler; kubectl prints them as "Warning: ...").
        self.on_warning = on_warning
        self.timeout = timeout
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = user_agent
        self.session.headers["Accept"] = JSON
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.verify = ca_file if ca_file else not insecure
        self._read_environment()
        self.transport = Transport(self.session, self.server)

    def _read_environment(self) -> None:
        """What requests would read from the environment on every request (the proxies for this
        server, ``no_proxy``, ``~/.netrc``, ``$REQUESTS_CA_BUNDLE``), read once here instead:
        per request it cost as much CPU as the rest of the call. A netrc login is not used (the
        API authenticates by token; requests would send it instead of the token)."""
        self.session.proxies.update(requests.utils.get_environ_proxies(self.server))
        if self.session.verify is True:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            self.session.verify = bundle or True
        self.session.trust_env = False

    # -- raw requests -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = JSON,
        stream: bool = False,
        timeout: float | None = None,
    ) -> requests.Response:
        """Send one request; return the response if it succeeded, else raise its ``ApiError``.

        A 429 (or 5xx) with ``Retry-After`` is sent again after that many seconds, as client-go
        does, at most ``MAX_RETRIES`` times and only while the waits fit in the timeout."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if data is not None else {}
        read_timeout = timeout if timeout is not None else self.timeout
        give_up = time.monotonic() + read_timeout
        for attempt in range(MAX_RETRIES + 1):
            resp = self._send(method, path, _clean(params), data, headers, stream, read_timeout)
            delay = _retry_after(resp)
            if delay is None or attempt == MAX_RETRIES or time.monotonic() + delay > give_up:
                break
            log.debug("%s %s: HTTP %s, again in %ss", method, path, resp.status_code, delay)
            resp.close()
            time.sleep(delay)
        if self.on_warning is not None:
            for text in warning_texts(resp.headers.get("Warning", "")):
                self.on_warning(text)
        if resp.status_code >= 400:
            raise _error_from(resp, method, path)
        return resp

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        data: bytes | None,
        headers: dict[str, str],
        stream: bool,
        read_timeout: float,
    ) -> requests.Response:
        try:
            timeouts = (min(CONNECT_TIMEOUT, read_timeout), read_timeout)
            return self.transport.send(method, path, params, data, headers, stream, timeouts)
        except requests.exceptions.SSLError as e:
            raise UnreachableError(f"unable to connect to the server {self.server}: {e}") from e
        except requests.exceptions.ConnectionError as e:
            raise UnreachableError(
                f"The connection to the server {_host(self.server)} was refused - "
                "did you specify the right host or port?"
            ) from e
        except requests.exceptions.Timeout as e:
            raise errors.ServerTimeoutError(
                f"the server {self.server} did not answer in time"
            ) from e
        except requests.exceptions.RequestException as e:
            raise UnreachableError(f"request to {self.server} failed: {e}") from e

    def request_json(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.request(method, path, **kw)
        try:
            return fastjson.loads(resp.content)
        except ValueError as e:
            raise errors.InternalError(f"the server sent a body that is not JSON for {path}") from e

    # -- typed helpers --------------------------------------------------------------------------

    def get(self, rt: ResourceType, name: str, namespace: str | None = None) -> dict[str, Any]:
        return dict(self.request_json("GET", rt.path(namespace, name)))

    def list(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """A LIST; ``resource_version`` "0" lets the server answer from its watch cache, "" or
        None asks for a consistent read."""
        params = {"labelSelector": label_selector, "fieldSelector": field_selector,
                  "resourceVersion": resource_version or None}  # fmt: skip
        return dict(self.request_json("GET", rt.path(namespace), params=params))

    def create(
        self, rt: ResourceType, obj: dict[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        return dict(self.request_json("POST", rt.path(namespace), body=obj))

    def update(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        namespace: str | None = None,
        sub: str | None = None,
    ) -> dict[str, Any]:
        """PUT the whole object (or its ``status`` with ``sub="status"``); 409 when stale."""
        name = obj["metadata"]["name"]
        ns = namespace or obj["metadata"].get("namespace")
        return dict(self.request_json("PUT", rt.path(ns, name, sub), body=obj))

    def patch(
        self,
        rt: ResourceType,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: str = MERGE_PATCH,
        sub: str | None = None,
    ) -> dict[str, Any]:
        return dict(
            self.request_json(
                "PATCH", rt.path(namespace, name, sub), body=patch, content_type=patch_type
            )
        )

    def delete(
        self,
        rt: ResourceType,
        name: str,
        namespace: str | None = None,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """DELETE an object; the answer is the object (if terminating) or a Success ``Status``."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        if preconditions:
            body["preconditions"] = preconditions
        return dict(self.request_json("DELETE", rt.path(namespace, name), body=body))

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
        idle_timeout: float | None = None,
        cancel: WatchCancel | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield watch events (``{"type", "object"}``) until the server ends the stream.

        An ``ERROR`` event is raised as its ``ApiError`` (``GoneError`` when the resourceVersion is
        too old: list again and watch from the new one). ``idle_timeout``: give up on a stream
        that sends nothing for this long (tinykube's API server sends a bookmark every minute
        on a quiet watch from a resourceVersion). ``cancel``: see ``WatchCancel``.
        """
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "timeoutSeconds": timeout_seconds,
            "allowWatchBookmarks": "true" if allow_bookmarks else None,
        }
        read_timeout = idle_timeout or (timeout_seconds or 300) + 60.0
        resp = self.request(
            "GET", rt.path(namespace), params=params, stream=True, timeout=read_timeout
        )
        if cancel is not None:
            cancel._attach(resp)
        try:
            for line in resp.iter_lines(chunk_size=None):
                if not line:
                    continue
                event = fastjson.loads(line)
                if event.get("type") == "ERROR":
                    raise errors.from_status(event.get("object") or {})
                yield event
        except (requests.exceptions.RequestException, OSError) as e:
            if cancel is not None and cancel.fired:
                return  # ended on purpose: the caller lists and watches again
            raise UnreachableError(f"watch of {rt.plural} was cut off: {e}") from e
        finally:
            if cancel is not None:
                cancel._attach(None)
            resp.close()

    def stream_lines(self, path: str, params: dict[str, Any] | None = None) -> Iterator[bytes]:
        """GET a text stream (``log?follow=true``) and yield it chunk by chunk as it arrives."""
        resp = self.request("GET", path, params=params, stream=True, timeout=None)
        try:
            yield from resp.iter_content(chunk_size=None)
        except requests.exceptions.RequestException as e:
            raise UnreachableError(f"stream of {path} was cut off: {e}") from e
        finally:
            resp.close()

    def with_timeout(self, timeout: float) -> ApiClient:
        """The same server, credentials and TLS settings, with its own connection pool and
        ``timeout`` on every request (connecting included): the kubelet's heartbeat client, whose
        calls must fail within a renew interval when the network silently drops them."""
        other = ApiClient(self.server, timeout=timeout)
        other.session.headers.update(self.session.headers)
        other.session.verify = self.session.verify
        return other

    def close(self) -> None:
        self.session.close()


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None and v != ""}


def _retry_after(resp: requests.Response) -> int | None:
    """The seconds a 429 or 5xx answer asks to wait before trying again (client-go's
    checkWait), if it says."""
    if resp.status_code != 429 and resp.status_code < 500:
        return None
    value = resp.headers.get("Retry-After", "").strip()
    return int(value) if value.isdigit() else None


def _host(server: str) -> str:
    return server.split("://", 1)[-1].rstrip("/")


def _error_from(resp: requests.Response, method: str, path: str) -> errors.ApiError:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return errors.from_status(body, resp.status_code)
    if resp.status_code == 404:
        return errors.NotFoundError("the server could not find the requested resource")
    text = resp.text.strip()[:200]
    err = errors.from_status({"code": resp.status_code, "message": text or resp.reason or ""})
    log.debug("%s %s: HTTP %s without a Status body", method, path, resp.status_code)
    return err
