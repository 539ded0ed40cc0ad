"""The channel framing of exec and port-forward, the exec Status both ways, and the pure parts of
tkctl's streaming commands (which pod, which port, which container, what follows ``--``)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from common import channels
from control.cli.exec import DASH_KEY, ExecCommand, pick_container
from control.cli.output import CliError
from control.cli.podpick import attach_rank
from control.cli.portforward import PortPair, parse_port


def reader(data: bytes) -> Any:
    return io.BytesIO(data).read


def test_frames_round_trip_and_end_cleanly() -> None:
    data = channels.encode_frame(1, b"out") + channels.encode_frame(255, b"\x00")
    data += channels.encode_frame(3)
    read = reader(data)
    assert channels.read_frame(read) == (1, b"out")
    assert channels.read_frame(read) == (255, b"\x00")
    assert channels.read_frame(read) == (3, b"")
    assert channels.read_frame(read) is None


@pytest.mark.parametrize(
    "data",
    [
        channels.encode_frame(1, b"abc")[:-1],  # cut inside the payload
        channels.encode_frame(1, b"abc")[:3],  # cut inside the header
        bytes([1]) + (channels.MAX_FRAME + 1).to_bytes(4, "big"),  # absurd length
    ],
)
def test_broken_frames_are_errors(data: bytes) -> None:
    with pytest.raises(channels.FrameError):
        channels.read_frame(reader(data))


def test_websocket_messages() -> None:
    assert channels.ws_message(0, b"ls\n") == b"\x00ls\n"
    assert channels.split_message(b"\x02err") == (2, b"err")
    assert channels.split_message("\x01text") == (1, b"text")
    assert channels.split_message(b"") is None
    assert channels.port_prefix(8080) == b"\x90\x1f"


def test_resize_payloads() -> None:
    assert channels.parse_resize(channels.resize_payload(100, 30)) == (100, 30)
    for bad in (b"nope", b'{"Width": 0, "Height": 3}', b'{"Width": "x"}', b"[]"):
        assert channels.parse_resize(bad) is None


def test_exec_status_as_the_kubelet_writes_it_and_as_kubectl_reads_it() -> None:
    ok = channels.exec_status(["true"], 0)
    assert ok == {"metadata": {}, "status": "Success"}
    failed = channels.exec_status(["sh", "-c", "exit 3"], 3)
    assert failed == {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
        "[sh -c exit 3], exit code 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }
    broken = channels.exec_status(["x"], None, "the command's exit code could not be read")
    assert broken["reason"] == "InternalError"
    assert channels.exit_of(json.dumps(ok).encode()) == (0, "")
    assert channels.exit_of(json.dumps(failed).encode()) == (3, "")
    assert channels.exit_of(json.dumps(broken).encode()) == (
        1,
        "the command's exit code could not be read",
    )
    assert channels.exit_of(b"") == (0, "")
    assert channels.exit_of(b"not json") == (1, "not json")


# -- tkctl's pure parts ---------------------------------------------------------------------------


def pod(name: str, phase: str = "Running", **kw: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if kw.get("ready_since"):
        status["conditions"] = [
            {"type": "Ready", "status": "True", "lastTransitionTime": kw["ready_since"]}
        ]
    status["containerStatuses"] = [{"restartCount": kw.get("restarts", 0)}]
    return {
        "metadata": {"name": name, "creationTimestamp": kw.get("created", "2026-01-01T00:00:00Z")},
        "spec": {"nodeName": kw.get("node", "node-1")},
        "status": status,
    }


def test_attach_rank_prefers_the_most_active_pod() -> None:
    pods = [
        pod("unassigned", node=""),
        pod("pending", "Pending"),
        pod("running-unready"),
        pod("ready-late", ready_since="2026-01-01T00:05:00Z"),
        pod("ready-early", ready_since="2026-01-01T00:01:00Z"),
    ]
    ranked = [p["metadata"]["name"] for p in sorted(pods, key=attach_rank)]
    assert ranked == ["ready-early", "ready-late", "running-unready", "pending", "unassigned"]
    # Equal otherwise: more restarts first, then the older pod.
    a = pod("a", restarts=1, created="2026-01-02T00:00:00Z")
    b = pod("b", restarts=3, created="2026-01-02T00:00:00Z")
    c = pod("c", restarts=3, created="2026-01-01T00:00:00Z")
    assert [p["metadata"]["name"] for p in sorted([a, b, c], key=attach_rank)] == ["c", "b", "a"]


WEB = {
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}]},
}


@pytest.mark.parametrize(
    ("spec", "pair"),
    [
        ("8080:80", PortPair(8080, 80)),
        ("80", PortPair(80, 80)),
        (":80", PortPair(0, 80)),
        ("9000:http", PortPair(9000, 8080)),
        ("http", PortPair(8080, 8080)),
    ],
)
def test_port_specs(spec: str, pair: PortPair) -> None:
    assert parse_port(spec, WEB) == pair


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("8080:nope", "Pod 'web' does not have a named port 'nope'"),
        ("70000:80", "Error parsing local port '70000': invalid port"),
        ("8080:0", "Error parsing remote port '0': port 0 cannot be forwarded"),
    ],
)
def test_bad_port_specs(spec: str, message: str) -> None:
    with pytest.raises(CliError) as e:
        parse_port(spec, WEB)
    assert e.value.message == message


def test_exec_container_choice(capsys: pytest.CaptureFixture[str]) -> None:
    two = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    assert pick_container(two, "b", quiet=False) == "b"
    assert pick_container(two, None, quiet=False) == "a"
    assert capsys.readouterr().err == 'Defaulted container "a" out of: a, b\n'
    assert pick_container(two, None, quiet=True) == "a"
    assert capsys.readouterr().err == ""
    annotated = {**two, "metadata": {"name": "p", "annotations": {
        "kubectl.kubernetes.io/default-container": "b"}}}  # fmt: skip
    assert pick_container(annotated, None, quiet=False) == "b"
    with pytest.raises(CliError, match="container c not found in pod p"):
        pick_container(two, "c", quiet=False)


def test_exec_keeps_what_follows_the_dash_apart() -> None:
    import click

    @click.command(cls=ExecCommand)
    @click.argument("args", nargs=-1)
    @click.option("-c", "--container")
    def cmd(args: tuple[str, ...], container: str | None) -> None:
        ctx = click.get_current_context()
        print(json.dumps([list(args), container, ctx.meta.get(DASH_KEY)]))

    from click.testing import CliRunner

    out = CliRunner().invoke(cmd, ["web", "-c", "box", "--", "sh", "-c", "echo hi"]).output
    assert json.loads(out) == [["web"], "box", ["sh", "-c", "echo hi"]]
    out = CliRunner().invoke(cmd, ["web", "sh"]).output
    assert json.loads(out) == [["web", "sh"], None, None]
