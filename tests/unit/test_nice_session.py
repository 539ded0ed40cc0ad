"""``bench._hollowchild.nice_session``: a hollow-node process lowers the priority of its own
session, which the kernel weighs against the control plane's where it shares the CPU among
sessions (autogroup); the benchmark's session keeps its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench._hollowchild import nice_session

AUTOGROUP = Path("/proc/self/autogroup")
REPO = Path(__file__).resolve().parents[2]


def _autogroup_nice(text: str) -> int:
    return int(text.split("nice")[1])


def _autogroup_applies() -> bool:
    """The file exists where the kernel has autogroup, but reads empty where this process's
    CPU group is a cgroup rather than its session's autogroup (a container, a systemd slice
    with the cpu controller): sessions are then not what the CPU is shared among."""
    try:
        return "nice" in AUTOGROUP.read_text()
    except OSError:
        return False


@pytest.mark.skipif(
    not _autogroup_applies(),
    reason="the kernel has no autogroup, or it does not apply to this process",
)
def test_a_process_in_a_session_of_its_own_lowers_that_session_only() -> None:
    before = _autogroup_nice(AUTOGROUP.read_text())
    code = (
        "from pathlib import Path\n"
        "from bench._hollowchild import nice_session\n"
        "nice_session(7)\n"
        "print(Path('/proc/self/autogroup').read_text())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True, start_new_session=True).stdout  # fmt: skip
    assert _autogroup_nice(out) == 7
    assert _autogroup_nice(AUTOGROUP.read_text()) == before  # the caller's session is untouched


def test_without_autogroup_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path, text: str) -> int:
        raise FileNotFoundError(str(self))

    monkeypatch.setattr(Path, "write_text", refuse)
    nice_session(5)  # no error: the threads' own niceness is what holds then
