"""The API server's process lifecycle: where gunicorn's control socket goes."""

from __future__ import annotations

from pathlib import Path

from control import lifecycle

KNOWN = {"control_socket", "control_socket_mode", "control_socket_disable", "bind"}


def test_control_socket_in_the_data_dir(tmp_path: Path) -> None:
    options = lifecycle.control_socket_options(tmp_path, KNOWN)
    assert options == {
        "control_socket": str(tmp_path / "gunicorn.ctl"),
        "control_socket_mode": 0o600,
    }


def test_no_data_dir_no_control_socket() -> None:
    assert lifecycle.control_socket_options(None, KNOWN) == {"control_socket_disable": True}


def test_gunicorn_without_control_socket_gets_no_setting(tmp_path: Path) -> None:
    assert lifecycle.control_socket_options(tmp_path, {"bind"}) == {}
