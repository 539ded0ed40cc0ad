"""This process's id without a system call: ``os.getpid`` asks the kernel every time (glibc no
longer caches it), and the fork-safety checks of redis-py's pools and of prometheus-client's
multiprocess values ask on every Redis call and every metric update, some ten times a request
in an API worker. The id is read once and again in each child a fork makes
(``os.register_at_fork``), which is when it changes: a process made otherwise (``exec``, a
``subprocess``) starts a new interpreter and reads its own."""

from __future__ import annotations

import os

_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def pid() -> int:
    """``os.getpid()``, kept up to date across forks."""
    return _pid
