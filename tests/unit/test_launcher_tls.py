"""``tinykube up --tls``: the supervisor serves and dials HTTPS, and trusts the control plane's CA
(kubectl sends its token only over TLS, so a plain-HTTP cluster cannot be used with kubectl)."""

from __future__ import annotations

from pathlib import Path

from common.launcher import build_parser
from common.supervisor import Options, Supervisor
from control.serverdata import prepare


def test_up_takes_tls() -> None:
    assert build_parser().parse_args(["up", "--tls"]).tls is True
    assert build_parser().parse_args(["up"]).tls is True  # as kube-apiserver, HTTPS by default
    assert build_parser().parse_args(["up", "--no-tls"]).tls is False


def test_the_supervisor_dials_https_and_trusts_the_servers_ca(tmp_path: Path) -> None:
    plain = Supervisor(Options(tmp_path, port=7000))
    assert (plain.server, plain.ca_file) == ("http://127.0.0.1:7000", None)
    tls = Supervisor(Options(tmp_path, port=7000, tls=True))
    assert tls.server == "https://127.0.0.1:7000"
    # The CA that `tinykube control --tls --data-dir DIR/server` makes is the one trusted.
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("t,admin,1,system:masters\n")
    made = prepare(tmp_path / "server", [], tokens)
    assert tls.ca_file == made.tls.ca_cert
    assert tls.ca_file.read_bytes() == made.ca_pem
