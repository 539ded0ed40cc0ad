"""The kubelet's token manager: a bound service-account token per (pod, audience, lifetime),
requested from the API server's ``serviceaccounts/<name>/token`` for the pod (the Node
authorizer and NodeRestriction let a node ask only for its own pods), kept until 80 % of its
lifetime has passed (or 24 h), then requested again, so the projected file is refreshed before
the token expires. ``needs_refresh`` is pure; ``TokenManager`` calls the API.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.volumeplan import TokenFetchError
from common import errors
from common.client import ApiClient
from common.resources import must

log = logging.getLogger(__name__)

SERVICE_ACCOUNTS = must("serviceaccounts")
# The kubelet's defaults: a projected token lives an hour unless the pod says otherwise, and is
# requested again once 80 % of its lifetime has gone, or after a day whatever its lifetime.
DEFAULT_EXPIRATION_SECONDS = 3600
REFRESH_FRACTION = 0.8
MAX_TTL = dt.timedelta(hours=24)

Key = tuple[str, str, str, str, int]  # (namespace, account, pod uid, audience, seconds)


@dataclass(frozen=True)
class Token:
    value: str
    issued: dt.datetime
    expires: dt.datetime


def needs_refresh(token: Token, now: dt.datetime) -> bool:
    """The kubelet's ``requiresRefresh``: past 80 % of its lifetime, or older than a day."""
    if now >= token.expires:
        return True
    ttl = token.expires - token.issued
    return now >= token.issued + ttl * REFRESH_FRACTION or now - token.issued > MAX_TTL


def token_request(pod: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
    """The TokenRequest the kubelet sends for a pod's ``serviceAccountToken`` source."""
    meta = pod.get("metadata") or {}
    spec: dict[str, Any] = {
        "expirationSeconds": int(source.get("expirationSeconds") or DEFAULT_EXPIRATION_SECONDS),
        "boundObjectRef": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta.get("name"),
            "uid": meta.get("uid"),
        },
    }
    if source.get("audience"):
        spec["audiences"] = [str(source["audience"])]
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class TokenManager:
    """Tokens of this node's pods, cached and refreshed; thread-safe."""

    def __init__(
        self, client: ApiClient, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    ) -> None:
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[Key, Token] = {}

    def fetcher(self, pod: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bytes]:
        """The token function of ``pod``'s projected sources (``volumeplan.TokenFetcher``)."""

        def fetch(source: Mapping[str, Any]) -> bytes:
            return self.token(pod, source).encode()

        return fetch

    def token(self, pod: Mapping[str, Any], source: Mapping[str, Any]) -> str:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        namespace = str(meta.get("namespace") or "")
        account = str(spec.get("serviceAccountName") or "default")
        body = token_request(pod, source)
        key: Key = (namespace, account, str(meta.get("uid")), str(source.get("audience") or ""),
                    int(body["spec"]["expirationSeconds"]))  # fmt: skip
        now = self.clock()
        with self._lock:
            held = self._tokens.get(key)
        if held is not None and not needs_refresh(held, now):
            return held.value
        try:
            answer = self.client.request_json(
                "POST", SERVICE_ACCOUNTS.path(namespace, account, "token"), body=body
            )
            status = answer.get("status") or {}
            token = Token(
                str(status["token"]), now, _parse_time(str(status["expirationTimestamp"]))
            )
        except (errors.ApiError, KeyError, ValueError) as e:
            if held is not None and now < held.expires:
                log.warning("pod %s/%s: token not refreshed: %s", namespace, meta.get("name"), e)
                return held.value  # the kubelet keeps serving a token that is still valid
            raise TokenFetchError(str(e)) from e
        with self._lock:
            self._tokens[key] = token
        log.debug("pod %s/%s: token for %s until %s", namespace, meta.get("name"), account,
                  token.expires)  # fmt: skip
        return token.value

    def forget(self, uid: str) -> None:
        """The pod is gone: drop its tokens."""
        with self._lock:
            for key in [k for k in self._tokens if k[2] == uid]:
                del self._tokens[key]
