"""``bench._observe.SamplerProcess``: the scale benchmark's GET/LIST sampler in a process of
its own, against a small HTTP server: it is fed the names created so far, sends the admin's
credentials, times its GETs and hands back its figures and its 5xx answers when finished."""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator

import pytest

from bench._observe import Answers, SamplerProcess
from common.client import ApiClient
from tests.unit.httpstub import send_json


class Handler(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:
        Handler.seen.append(self.path)
        if self.headers.get("Authorization") != "Bearer admin-token":
            code, body = 401, b'{"kind":"Status","code":401}'
        elif self.path.endswith("/bad"):
            code, body = 500, b'{"kind":"Status","code":500,"message":"broken"}'
        else:
            code, body = 200, b'{"kind":"Pod"}'
        send_json(self, code, body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_sampler_process_times_gets_of_the_names_fed_and_reports_its_5xx(server: str) -> None:
    names: list[str] = []
    answers = Answers()
    started = time.monotonic()
    sampler = SamplerProcess(ApiClient(server, "admin-token"), lambda: names, answers)
    try:
        time.sleep(0.5)
        assert not any("/pods/" in p for p in Handler.seen), "no name yet: no GET"
        names += ["ns-a/good", "ns-b/bad"]
        deadline = time.monotonic() + 10
        while sum("/pods/" in p for p in Handler.seen) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sampler.cpu_seconds() > 0
        # a session of its own: where the kernel shares the CPU among sessions, the
        # benchmark's busy threads do not delay its calls
        assert os.getsid(sampler.proc.pid) == sampler.proc.pid != os.getsid(0)
    finally:
        sampler.finish()
    gets = [p for p in Handler.seen if "/pods/" in p]
    assert {p.rsplit("/", 3)[-3:][0] for p in gets} <= {"ns-a", "ns-b"}
    assert len(sampler.get) >= 20 and all(0 < t < 5 for t in sampler.get)
    # when each was sent, on the clock of this process too
    assert len(sampler.get_at) == len(sampler.get)
    assert sampler.get_at == sorted(sampler.get_at)
    assert started < sampler.get_at[0] and sampler.get_at[-1] < time.monotonic()
    assert answers.errors_5xx == sum(p.endswith("/bad") for p in gets) > 0
    assert any("broken" in m for m in answers.first_message.values())
    assert sampler.proc.returncode == 0
