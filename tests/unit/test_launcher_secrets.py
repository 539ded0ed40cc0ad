"""``tinykube up`` puts no secret on a command line (every local user reads them in ``ps``): the
Redis password and the node tokens reach their processes through 0600 files."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from common import supervisor
from common.supervisor import Child, Options, Supervisor


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Supervisor:
    """A supervisor that went through ``start`` with the children's processes left out."""
    monkeypatch.setattr(Child, "start", lambda self: None)
    monkeypatch.setattr(supervisor, "wait_for_redis", lambda *a, **k: None)
    monkeypatch.setattr(Supervisor, "_wait_for_api", lambda self, client: "cluster-uid")
    monkeypatch.setattr("common.redis_server.find_redis_server", lambda: "/usr/bin/redis-server")
    sup = Supervisor(Options(tmp_path, port=7000, agents=2))
    sup.start()
    return sup


def _secrets(data_dir: Path) -> dict[str, str]:
    found = {
        line.split(",")[1]: line.split(",")[0]
        for line in (data_dir / "tokens.csv").read_text().splitlines()
    }
    found["redis"] = (data_dir / "redis-password").read_text().strip()
    return found


def test_no_child_gets_a_secret_in_its_argv(started: Supervisor, tmp_path: Path) -> None:
    secrets = _secrets(tmp_path)
    assert set(secrets) == {"admin", "system:node:node-1", "system:node:node-2", "redis"}
    argvs = {c.name: c.argv for c in started.children}
    assert set(argvs) == {"redis", "control", "node-1", "node-2"}
    for name, argv in argvs.items():
        line = " ".join(argv)
        leaked = [who for who, secret in secrets.items() if secret in line]
        assert not leaked, f"{name}: {leaked} in {argv}"


def test_the_secrets_reach_the_children_through_private_files(
    started: Supervisor, tmp_path: Path
) -> None:
    secrets = _secrets(tmp_path)
    argvs: dict[str, Any] = {c.name: c.argv for c in started.children}
    conf = Path(argvs["redis"][1])
    assert conf == tmp_path / "redis" / "redis.conf"
    assert f'requirepass "{secrets["redis"]}"' in conf.read_text()
    control = argvs["control"]
    password_file = Path(control[control.index("--redis-password-file") + 1])
    assert password_file.read_text().strip() == secrets["redis"]
    node = argvs["node-2"]
    token_file = Path(node[node.index("--token-file") + 1])
    assert token_file.read_text().strip() == secrets["system:node:node-2"]
    for path in (conf, password_file, token_file, tmp_path / "tokens.csv",
                 tmp_path / "kubeconfig.yaml"):  # fmt: skip
        assert _mode(path) == 0o600, path
    for directory in (tmp_path / "redis", token_file.parent):
        assert _mode(directory) == 0o700, directory


def test_the_redis_password_is_kept_across_restarts(started: Supervisor, tmp_path: Path) -> None:
    before = _secrets(tmp_path)
    Supervisor(Options(tmp_path, port=7000, agents=2)).start()
    assert _secrets(tmp_path) == before


def test_secrets_are_encrypted_at_rest_with_a_key_kept_across_restarts(
    started: Supervisor, tmp_path: Path
) -> None:
    control: Any = next(c.argv for c in started.children if c.name == "control")
    path = Path(control[control.index("--encryption-provider-config") + 1])
    assert path == tmp_path / "encryption-config.yaml"
    assert _mode(path) == 0o600
    text = path.read_text()
    assert "aescbc" in text and text.split("secret: ")[1].split()[0] not in " ".join(control)
    Supervisor(Options(tmp_path, port=7000, agents=2)).start()
    assert path.read_text() == text
