"""The gunicorn master's side of the controller process: started with the master's flags,
started again with a doubling back-off when it dies, stopped with the master."""

from __future__ import annotations

import logging
import os
import time

import pytest

from control import controllerprocess
from control.controllerprocess import Supervisor


def wait_exit(sup: Supervisor, timeout: float = 30) -> None:
    """Call ``ensure`` (as the master's loop does) until it has seen the process end."""
    pid = sup.pid
    deadline = time.monotonic() + timeout
    while sup.pid == pid and time.monotonic() < deadline:
        sup.ensure()
        time.sleep(0.05)
    assert sup.pid != pid, "the controller process did not end"


def test_a_dying_process_is_started_again_later_each_time(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(controllerprocess, "FIRST_DELAY", 0.2)
    sup = Supervisor(["--no-such-flag"])  # argparse refuses it: the process exits with 2
    sup.delay = 0.2
    caplog.set_level(logging.INFO, logger=controllerprocess.__name__)
    sup.start()
    first = sup.pid
    try:
        wait_exit(sup)
        assert "exited (2)" in caplog.text
        assert sup.pid is None and sup.next_start > time.monotonic()  # waits its back-off
        assert sup.delay == 0.4
        deadline = time.monotonic() + 5
        while sup.pid is None and time.monotonic() < deadline:
            sup.ensure()
            time.sleep(0.02)
        assert sup.pid is not None and sup.pid != first
        wait_exit(sup)
        assert sup.delay == 0.8
    finally:
        sup.stop()


def test_stop_ends_a_running_process() -> None:
    # A process that would run for a while: it waits for a Redis that is not there.
    sup = Supervisor(["--redis-url", "redis://127.0.0.1:1/0"])
    sup.start()
    pid = sup.pid
    assert pid is not None
    time.sleep(0.5)
    sup.ensure()
    assert sup.pid == pid  # still running
    sup.stop()
    assert sup.pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)  # already reaped by stop()
