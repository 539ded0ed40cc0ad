"""The agent's token comes from a file or the environment; ``--token`` on the command line (read
by every local user in ``ps``) still works but warns."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import join
from agent.main import parse_args
from agent.tokenflags import ARGV_WARNING

SERVER = ["--server", "http://127.0.0.1:1"]


@pytest.fixture(autouse=True)
def _no_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TK_TOKEN", raising=False)
    monkeypatch.delenv("TK_TOKEN_FILE", raising=False)


def test_token_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "token"
    path.write_text("s3cret\n")
    assert parse_args([*SERVER, "--token-file", str(path)]).token == "s3cret"
    assert capsys.readouterr().err == ""


def test_token_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "token"
    path.write_text("from-file")
    monkeypatch.setenv("TK_TOKEN_FILE", str(path))
    monkeypatch.setenv("TK_TOKEN", "from-env")
    assert parse_args(SERVER).token == "from-file"


def test_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TK_TOKEN", "from-env")
    assert parse_args(SERVER).token == "from-env"
    assert capsys.readouterr().err == ""


def test_token_on_the_command_line_warns(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args([*SERVER, "--token", "visible"]).token == "visible"
    err = capsys.readouterr().err
    assert ARGV_WARNING in err and "--token-file" in err


def test_no_token_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        parse_args(SERVER)
    assert e.value.code == 2
    assert "--server and a token (--token-file PATH or TK_TOKEN) are required" in (
        capsys.readouterr().err
    )


def test_an_unreadable_token_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none"
    with pytest.raises(SystemExit) as e:
        parse_args([*SERVER, "--token-file", str(missing)])
    assert e.value.code == 2
    assert f"--token-file {missing}: No such file or directory" in capsys.readouterr().err


def test_join_reads_the_token_the_same_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        join.main([*SERVER, "--token-file", str(tmp_path / "none")])
    assert "--token-file" in capsys.readouterr().err
