"""The Flask application factory of the API server: authentication, one error handler that turns
every ``ApiError`` into a Kubernetes ``Status``, the REST routes and discovery."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, jsonify, request
from flask.sessions import NullSession, SessionInterface
from flask.wrappers import Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from common import errors
from common.heartbeat import HeartbeatPolicy
from control.apiserver import (
    discovery,
    inflight,
    join,
    metrics,
    openapi,
    priority,
    resourcemetrics,
    rest,
    reviews,
    streams,
    tokens,
)
from control.apiserver.auth import TokenAuthenticator
from control.apiserver.bodylimit import MAX_BODY, BodyLimit
from control.registry.allocation import ServiceRanges
from control.registry.registry import DEFAULT_TOLERATION_SECONDS, Registry
from control.satokens import Issuer
from control.store import Store
from control.validation.podsecurity import DEFAULT_POLICY, Policy

log = logging.getLogger(__name__)

# Paths anyone may read, as Kubernetes' system:public-info-viewer role allows.
PUBLIC_PATHS = ("/healthz", "/readyz", "/livez", "/version", "/version/")


@dataclass
class ServerConfig:
    allow_privileged: bool = False
    # Pod Security admission's cluster defaults (namespaces without pod-security labels).
    pod_security: Policy = DEFAULT_POLICY
    # DefaultTolerationSeconds admission: (not-ready, unreachable) seconds; None turns it off.
    default_tolerations: tuple[int, int] | None = DEFAULT_TOLERATION_SECONDS
    # Seconds a watch stays open when the client sets no timeoutSeconds (Kubernetes: 30-60 min).
    watch_timeout: float = 1800.0
    # Seconds between bookmarks on a quiet watch: kube-apiserver's defaultBookmarkFrequency (a
    # minute). Every open watch that asked for bookmarks gets one this often, each a wake-up
    # and a write: 1,000 nodes hold some 7,500 watches, 750 bookmarks a second at 10 s.
    watch_poll: float = 60.0
    limits: inflight.Limits = field(default_factory=inflight.Limits)
    # The renew intervals handed to the nodes in their Leases (common.heartbeat).
    heartbeats: HeartbeatPolicy = field(default_factory=HeartbeatPolicy)
    # --service-cluster-ip-range and --service-node-port-range.
    service_ranges: ServiceRanges = field(default_factory=ServiceRanges)
    # What signs and checks service-account tokens; None: TokenRequest is not served.
    service_accounts: Issuer | None = None
    # The TaintNodesByCondition admission plugin (on in a running server, as in Kubernetes).
    taint_new_nodes: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def status_response(e: errors.ApiError) -> Response:
    """The error's Status, with ``Retry-After`` when it asks the client to wait (as Kubernetes)."""
    response = jsonify(e.to_status())
    if e.details.get("retryAfterSeconds"):
        response.headers["Retry-After"] = str(e.details["retryAfterSeconds"])
    return response


class _NoSessions(SessionInterface):
    """No sessions: the API sets no cookie. Flask's default looks for its signed cookie on
    every request and, with no secret key, makes a new empty session each time; here every
    request shares one that refuses to be written."""

    _none = NullSession()

    def open_session(self, app: Flask, request: Any) -> NullSession:
        return self._none

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        return None


class _Args(ImmutableMultiDict):  # type: ignore[type-arg]
    """A request's query parameters, whose ``get`` of one that is not there returns the default
    without raising: werkzeug's raises and catches its ``BadRequestKeyError`` (an HTTP exception,
    built each time), some eight times a request, for the options a client did not send."""

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # type: ignore[override]
        if key not in self:
            return default
        return super().get(key, default, type)


class _ApiRequest(Request):
    parameter_storage_class = _Args


class ApiFlask(Flask):
    """Flask for the API server: no sessions, no coroutine views or hooks, so each is called as
    it is (Flask's ``ensure_sync`` asks of every hook and view, on every request, whether it is
    a coroutine function: seven times a GET), and query parameters that are looked up cheaply."""

    session_interface = _NoSessions()
    request_class = _ApiRequest

    def ensure_sync(self, func: Any) -> Any:
        return func


def create_app(
    store: Store, authenticator: TokenAuthenticator, config: ServerConfig | None = None
) -> Flask:
    config = config or ServerConfig()
    # No static folder: Flask's default /static route would serve files from the working directory.
    app = ApiFlask("tinykube", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY  # bodies without a Content-Length
    app.wsgi_app = BodyLimit(app.wsgi_app)  # type: ignore[method-assign]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["tinykube"] = {
        "store": store,
        "registry": Registry(
            store,
            allow_privileged=config.allow_privileged,
            pod_security=config.pod_security,
            default_tolerations=config.default_tolerations,
            heartbeats=config.heartbeats,
            service_ranges=config.service_ranges,
            service_accounts=config.service_accounts is not None,
            taint_new_nodes=config.taint_new_nodes,
        ),
        "auth": authenticator,
        "config": config,
        "limiter": inflight.Limiter(config.limits),
        "gate": priority.Gate(config.limits.seats),
    }

    tokens.install(app, authenticator, config.service_accounts)
    metrics.install(app)

    @app.before_request
    def authenticate() -> None:
        req = request._get_current_object()  # type: ignore[attr-defined]
        if req.path in PUBLIC_PATHS or req.path in join.PATHS:
            return
        g.user = authenticator.authenticate(req.headers.get("Authorization"))

    inflight.install(app, app.extensions["tinykube"]["limiter"], app.extensions["tinykube"]["gate"])

    @app.errorhandler(errors.ApiError)
    def api_error(e: errors.ApiError) -> tuple[Response, int]:
        if e.code >= 500:
            log.warning("%s %s: %s", request.method, request.path, e.message)
        return status_response(e), e.code

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(e: RequestEntityTooLarge) -> tuple[Response, int]:
        err = errors.RequestEntityTooLargeError(f"Request entity too large: limit is {MAX_BODY}")
        return jsonify(err.to_status()), err.code

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> tuple[Response, int]:
        code = e.code or 500
        if code == 404:
            err: errors.ApiError = errors.NotFoundError(
                "the server could not find the requested resource"
            )
        elif code == 405:
            err = errors.MethodNotAllowedError(
                "the server does not allow this method on the requested resource "
                f"({request.method})"
            )
        else:
            err = errors.from_status({"code": code, "message": e.description or str(e)})
        return jsonify(err.to_status()), err.code

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> tuple[Response, int]:
        log.exception("%s %s: unexpected error", request.method, request.path)
        err = errors.InternalError(
            f"an error on the server ({type(e).__name__}) has prevented the request from succeeding"
        )
        return jsonify(err.to_status()), err.code

    @app.get("/healthz")
    @app.get("/livez")
    def healthz() -> Response:
        return Response("ok", mimetype="text/plain")

    @app.get("/readyz")
    def readyz() -> Response:
        store.ping()
        return Response("ok", mimetype="text/plain")

    app.register_blueprint(discovery.blueprint)
    app.register_blueprint(openapi.blueprint)
    app.register_blueprint(join.blueprint)
    app.register_blueprint(streams.blueprint)
    app.register_blueprint(reviews.blueprint)
    app.register_blueprint(tokens.blueprint)
    app.register_blueprint(resourcemetrics.blueprint)
    app.register_blueprint(rest.blueprint)
    return app
