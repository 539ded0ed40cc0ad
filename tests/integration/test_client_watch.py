"""The API client's watch against the real API server (Flask over Redis, served over HTTP
in-process): a stream that sends nothing for ``idle_timeout`` is given up with an error, and
``WatchCancel.fire`` from another thread ends an open watch as if the server had closed it (what
the agent does after a partition, whose dead stream would otherwise wait for its timeout); a
``with_timeout`` client (the agent's heartbeat client) keeps the credentials and gives up on a
server that swallows its request within its timeout."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from common import errors
from common.client import ApiClient, WatchCancel
from common.resources import must

PODS = must("pods")


def test_a_silent_stream_is_given_up_after_the_idle_timeout(admin: ApiClient) -> None:
    rv = admin.list(PODS, "default")["metadata"]["resourceVersion"]
    pod = {"metadata": {"name": "one"}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}
    threading.Timer(0.3, lambda: admin.create(PODS, pod, "default")).start()
    seen: list[str] = []
    started = time.monotonic()
    with pytest.raises(errors.ServiceUnavailableError, match="watch of pods was cut off"):
        # No bookmarks asked for: after the one event the server sends nothing at all.
        for event in admin.watch(PODS, "default", resource_version=rv, allow_bookmarks=False,
                                 timeout_seconds=60, idle_timeout=2.0):  # fmt: skip
            seen.append(event["type"])
    assert seen == ["ADDED"]
    assert time.monotonic() - started < 30  # not the 60 s the server would keep it open


def test_bookmarks_keep_an_idle_timeout_from_firing(admin: ApiClient) -> None:
    rv = admin.list(PODS, "default")["metadata"]["resourceVersion"]
    seen: list[str] = []
    for event in admin.watch(PODS, "default", resource_version=rv, timeout_seconds=2,
                             idle_timeout=1.0):  # fmt: skip
        seen.append(event["type"])
    assert seen and set(seen) == {"BOOKMARK"}  # the server ended it, after bookmarks


def test_fire_ends_an_open_watch_from_another_thread(admin: ApiClient) -> None:
    rv = admin.list(PODS, "default")["metadata"]["resourceVersion"]
    cancel = WatchCancel()
    assert not cancel.fire()  # nothing open yet
    outcome: list[Any] = []

    def watch() -> None:
        try:
            events = list(admin.watch(PODS, "default", resource_version=rv,
                                      timeout_seconds=120, cancel=cancel))  # fmt: skip
            outcome.append(events)
        except Exception as e:  # the test fails on this below
            outcome.append(e)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not cancel.fire():
        assert time.monotonic() < deadline, "the watch never opened"
        time.sleep(0.05)
    thread.join(10)
    assert not thread.is_alive(), "the watch did not end"
    assert len(outcome) == 1 and isinstance(outcome[0], list), outcome
    # The handle is free again for the next watch.
    assert not cancel.fire()


def test_a_heartbeat_client_keeps_the_credentials_and_gives_up_in_time(admin: ApiClient) -> None:
    quick = admin.with_timeout(0.5)
    assert quick.timeout == 0.5
    assert quick.list(PODS, "default")["kind"] == "PodList"  # the admin token went with it
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        mute = ApiClient(f"http://127.0.0.1:{port}", "t").with_timeout(0.5)
        started = time.monotonic()
        with pytest.raises(errors.ServerTimeoutError):
            mute.list(PODS, "default")
        assert time.monotonic() - started < 5  # not the default 30 s
