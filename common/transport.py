"""How ``ApiClient`` sends one request: straight to the urllib3 connection pool of the session's
adapter, with the adapter's TLS settings, retries and exception mapping, instead of through
``Session.send`` (adapter look-up, cookie jars, redirect generator, URL re-parsing and CA file
checks on every call: half the client's CPU per request). A request's header block and its
body leave in one write, as Go's buffered writer sends them, not two (two TLS records and two
system calls). Proxied requests and redirects still go through the session. Effectful (network).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar
from requests.models import RequestEncodingMixin
from requests.structures import CaseInsensitiveDict
from requests.utils import check_header_validity, get_encoding_from_headers, requote_uri
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3 import exceptions as u3
from urllib3.connection import HTTPConnection, HTTPSConnection

# requests' own encoding of query parameters (PreparedRequest.prepare_url's).
_encode_params: Callable[[Any], str] = RequestEncodingMixin._encode_params  # type: ignore[attr-defined]

# Header sets remembered as checked: a client sends a few (with and without a Content-Type), and
# one more each time its token is replaced.
VALID_HEADER_SETS = 64

# A body up to this size goes out in the same write as the header block (one copy of it).
ONE_WRITE_MAX_BODY = 64 * 1024

# What urllib3 raises, as requests' HTTPAdapter.send turns it into its own exceptions.
_RETRY_REASONS: tuple[tuple[type[Exception], type[requests.RequestException]], ...] = (
    (u3.ResponseError, requests.exceptions.RetryError),
    (u3.ProxyError, requests.exceptions.ProxyError),
    (u3.SSLError, requests.exceptions.SSLError),
)


def requests_error(e: Exception, req: requests.PreparedRequest) -> Exception:
    """The exception requests' ``HTTPAdapter.send`` raises for urllib3's ``e`` (``e`` itself
    where it lets it through)."""
    if isinstance(e, u3.MaxRetryError):
        reason = e.reason
        if isinstance(reason, u3.ConnectTimeoutError) and not isinstance(
            reason, u3.NewConnectionError
        ):
            return requests.exceptions.ConnectTimeout(e, request=req)
        for kind, mapped in _RETRY_REASONS:
            if isinstance(reason, kind):
                return mapped(e, request=req)
        return requests.ConnectionError(e, request=req)
    if isinstance(e, (u3.ProtocolError, OSError, u3.ClosedPoolError)):
        return requests.ConnectionError(e, request=req)
    if isinstance(e, u3.ProxyError):
        return requests.exceptions.ProxyError(e)
    if isinstance(e, u3.SSLError):
        return requests.exceptions.SSLError(e, request=req)
    if isinstance(e, u3.ReadTimeoutError):
        return requests.exceptions.ReadTimeout(e, request=req)
    if isinstance(e, u3.InvalidHeader):
        return requests.exceptions.InvalidHeader(e, request=req)
    return e


class _OneWrite(HTTPConnection):
    """Holds the header block ``request`` sends first and sends it with the body's bytes."""

    _hold = False
    _held: bytes | None = None

    def request(
        self, method: str, url: str, body: Any = None, headers: Any = None, **kw: Any
    ) -> None:
        self._hold = (isinstance(body, bytes) and 0 < len(body) <= ONE_WRITE_MAX_BODY
                      and not kw.get("chunked"))  # fmt: skip
        try:
            super().request(method, url, body=body, headers=headers, **kw)
            if self._held is not None:  # no body followed after all
                super().send(self._held)
        finally:
            self._hold, self._held = False, None

    def send(self, data: Any) -> None:
        if self._hold:
            if self._held is None:
                self._held = bytes(data)  # the header block: the body follows
                return
            data, self._held, self._hold = self._held + bytes(data), None, False
        super().send(data)


class OneWriteHTTPConnection(_OneWrite):
    pass


class OneWriteHTTPSConnection(_OneWrite, HTTPSConnection):
    pass


class Transport:
    """Sends the requests of one ``ApiClient`` (its ``session`` holds headers, TLS settings,
    proxies and hooks, read at each call); thread-safe."""

    def __init__(self, session: requests.Session, server: str) -> None:
        self.session = session
        self.server = server
        # Pools by (verify, cert), each looked up and its CA file checked once, as requests
        # would on every call.
        self._pools: dict[tuple[Any, Any], tuple[HTTPAdapter, Any]] = {}
        self._valid_headers: set[tuple[tuple[str, Any], ...]] = set()

    def send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        data: bytes | None,
        headers: dict[str, str],
        stream: bool,
        timeout: tuple[float, float],
    ) -> requests.Response:
        """What ``Session.send`` of the same prepared request answers (requests' exceptions
        included)."""
        s = self.session
        if s.proxies:
            return self._via_session(method, path, params, data, headers, stream, timeout)
        req = self._prepare(method, path, params, data, headers)
        adapter, pool = self._pool(req)
        start = time.perf_counter()
        try:
            raw = pool.urlopen(
                method=method.upper(),
                url=req.path_url,
                body=data,
                headers=req.headers,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
                retries=adapter.max_retries,
                timeout=Timeout(connect=timeout[0], read=timeout[1]),
                chunked=False,
            )
        except (u3.HTTPError, OSError) as e:
            mapped = requests_error(e, req)
            if mapped is e:
                raise
            raise mapped from e
        resp = _response(req, raw, adapter)
        resp.elapsed = timedelta(seconds=time.perf_counter() - start)
        hooks: list[Callable[..., Any]] = s.hooks.get("response") or []
        for hook in hooks:
            answer = hook(resp, stream=stream, timeout=timeout, verify=s.verify, cert=s.cert,
                          proxies=s.proxies)  # fmt: skip
            resp = answer if answer is not None else resp
        if resp.is_redirect:  # followed by the session, as Session.send does
            req._cookies = RequestsCookieJar()  # type: ignore[attr-defined]
            verify: Any = s.verify
            history = [resp, *s.resolve_redirects(resp, req, stream=stream, timeout=timeout,
                                                  verify=verify, cert=s.cert,
                                                  proxies=s.proxies)]  # fmt: skip
            resp = history.pop()
            resp.history = history
        if not stream:
            resp.content  # noqa: B018 - read it all: the connection goes back to the pool
        return resp

    def _prepare(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        data: bytes | None,
        headers: dict[str, str],
    ) -> requests.PreparedRequest:
        """The request ``PreparedRequest.prepare`` would make of these (no cookies, no auth:
        the token is a header)."""
        query = _encode_params(params) if params else ""
        sep = "&" if "?" in path else "?"
        req = requests.PreparedRequest()
        req.method = method.upper()
        req.url = requote_uri(self.server + path + (sep + query if query else ""))
        merged: dict[str, Any] = {**self.session.headers, **headers}
        key = tuple(merged.items())
        if key not in self._valid_headers:
            for header in key:
                check_header_validity(header)
            if len(self._valid_headers) >= VALID_HEADER_SETS:
                self._valid_headers.clear()  # a rotated token is a new set: do not keep them all
            self._valid_headers.add(key)
        if data is not None:
            merged["Content-Length"] = str(len(data))
        elif req.method not in ("GET", "HEAD"):
            merged["Content-Length"] = "0"
        req.headers = CaseInsensitiveDict(merged)
        req.body = data
        req.hooks = self.session.hooks
        return req

    def _pool(self, req: requests.PreparedRequest) -> tuple[HTTPAdapter, HTTPConnectionPool]:
        """The adapter and pool ``Session.send`` would pick for ``req``."""
        s = self.session
        key = (s.verify, s.cert)
        held = self._pools.get(key)
        if held is not None and held[1].pool is not None:  # not closed (session.close)
            return held
        requests.PreparedRequest().prepare(method="GET", url=self.server)  # raises as before
        adapter = s.get_adapter(self.server)
        if not isinstance(adapter, HTTPAdapter):
            raise TypeError(f"no HTTP adapter for {self.server}")
        pool = adapter.get_connection_with_tls_context(req, s.verify, cert=s.cert)
        adapter.cert_verify(pool, req.url or "", s.verify, s.cert)  # type: ignore[no-untyped-call]
        if not isinstance(pool, HTTPConnectionPool):
            raise TypeError(f"no connection pool for {self.server}")
        https = isinstance(pool, HTTPSConnectionPool)
        pool.ConnectionCls = OneWriteHTTPSConnection if https else OneWriteHTTPConnection
        self._pools[key] = (adapter, pool)
        return adapter, pool

    def _via_session(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        data: bytes | None,
        headers: dict[str, str],
        stream: bool,
        timeout: tuple[float, float],
    ) -> requests.Response:
        s = self.session
        prepared = requests.PreparedRequest()
        prepared.prepare(method=method, url=self.server + path, params=params, data=data,
                         headers={**s.headers, **headers}, hooks=s.hooks)  # fmt: skip
        return s.send(prepared, stream=stream, timeout=timeout, verify=s.verify,
                      proxies=s.proxies, cert=s.cert, allow_redirects=True)  # fmt: skip


def _response(req: requests.PreparedRequest, raw: Any, adapter: HTTPAdapter) -> requests.Response:
    """``HTTPAdapter.build_response`` without reading cookies (the API sets none, and the
    client sends none)."""
    resp = requests.Response()
    resp.status_code = raw.status
    resp.headers = CaseInsensitiveDict(raw.headers)
    resp.encoding = get_encoding_from_headers(resp.headers)
    resp.raw = raw
    resp.reason = raw.reason
    resp.url = req.url or ""
    resp.request = req
    resp.connection = adapter
    return resp
