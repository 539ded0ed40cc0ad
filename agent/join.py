"""Joining a cluster with a k3s-style token: fetch the CA from ``/cacerts`` without trusting it,
check its sha256 against the token's hash (refusing on mismatch before any credential is sent),
then trust only that CA and trade the join secret for this node's own credential, kept in the
agent's data dir (``credentials.json``, ``server-ca.crt``, ``node-password``) and reused on
restart. The short token form (the secret alone) skips the check, with a warning. Effectful.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests
import urllib3

from agent import tokenflags
from common import errors
from common.jointoken import JoinToken, TokenFormatError, ca_hash, matches, parse_token

log = logging.getLogger(__name__)

CACERTS_PATH = "/cacerts"
JOIN_PATH = "/v1-tinykube/join"
# How long a join keeps retrying a server that cannot be reached (it may be starting too).
JOIN_TIMEOUT = 120.0
REQUEST_TIMEOUT = 10.0


class CaMismatchError(errors.ForbiddenError):
    """The server's CA is not the one the join token names: someone may be in the middle."""


@dataclass(frozen=True)
class Credentials:
    server: str
    node_name: str
    token: str
    ca_file: str | None
    pod_cidr: str | None = None
    ca_hash: str | None = None


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/tinykube/agent")
    return Path("~/.tinykube/agent").expanduser()


def wants_join(token_text: str, server: str, ca_file: str | None, insecure: bool) -> bool:
    """A K10 token always joins; a bare one joins only for an HTTPS server the flags give no way
    to trust (otherwise it is this node's bearer token, as ``tinykube up`` passes)."""
    if token_text.startswith("K10") and "::" in token_text:
        return True
    return server.startswith("https://") and not ca_file and not insecure


# -- the data dir ------------------------------------------------------------------------------


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def node_password(data_dir: Path) -> str:
    """This machine's node password, made once: it proves a rejoin comes from the same machine."""
    path = data_dir / "node-password"
    try:
        text = path.read_text().strip()
        if text:
            return text
    except OSError:
        pass
    text = secrets.token_hex(16)
    _write(path, (text + "\n").encode(), 0o600)
    return text


def load(data_dir: Path) -> Credentials | None:
    try:
        data = json.loads((data_dir / "credentials.json").read_text())
        return Credentials(**data)
    except (OSError, ValueError, TypeError):
        return None


def save(data_dir: Path, creds: Credentials) -> None:
    _write(data_dir / "credentials.json", json.dumps(asdict(creds), indent=2).encode(), 0o600)


# -- talking to the server ----------------------------------------------------------------------


def fetch_ca(server: str, timeout: float = REQUEST_TIMEOUT) -> bytes:
    """``/cacerts`` without verification: what it returns is checked, not trusted."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            resp = requests.get(server.rstrip("/") + CACERTS_PATH, verify=False, timeout=timeout)
    except requests.RequestException as e:
        raise errors.ServiceUnavailableError(f"unable to reach {server}: {e}") from e
    if resp.status_code != 200:
        raise errors.from_status(_status(resp), resp.status_code)
    return resp.content


def verify_ca(token: JoinToken, ca_pem: bytes, server: str) -> None:
    if not token.secure:
        log.warning(
            "join: the token has no CA hash (short form), so the server %s cannot be verified; "
            "use the full K10 token from the server's node-token file",
            server,
        )
        return
    if not matches(token, ca_pem):
        raise CaMismatchError(
            f"the CA served by {server} (sha256 {ca_hash(ca_pem)}) is not the one the join "
            f"token names (sha256 {token.ca_hash}); refusing to send credentials"
        )


def request_credential(
    server: str, token: JoinToken, node: str, password: str, ca_file: str | None
) -> dict[str, Any]:
    verify: str | bool = ca_file if ca_file and server.startswith("https://") else True
    try:
        resp = requests.post(
            server.rstrip("/") + JOIN_PATH,
            json={"nodeName": node, "nodePassword": password},
            auth=(token.user, token.secret),
            verify=verify,
            timeout=REQUEST_TIMEOUT,
        )
    except requests.exceptions.SSLError as e:
        raise CaMismatchError(f"the server {server} failed verification with its CA: {e}") from e
    except requests.RequestException as e:
        raise errors.ServiceUnavailableError(f"unable to reach {server}: {e}") from e
    if resp.status_code >= 400:
        raise errors.from_status(_status(resp), resp.status_code)
    body = resp.json()
    if not isinstance(body, dict) or not isinstance(body.get("token"), str):
        raise errors.InternalError("the join answer carries no token")
    return body


def _status(resp: requests.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return body
    return {"code": resp.status_code, "message": resp.text.strip() or resp.reason}


def join(server: str, token: JoinToken, node: str, data_dir: Path) -> Credentials:
    """Join once: check the CA, then trade the join secret for this node's credential."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_pem = fetch_ca(server)
    verify_ca(token, ca_pem, server)
    ca_file = data_dir / "server-ca.crt"
    _write(ca_file, ca_pem, 0o644)
    answer = request_credential(server, token, node, node_password(data_dir), str(ca_file))
    creds = Credentials(
        server=server,
        node_name=node,
        token=str(answer["token"]),
        ca_file=str(ca_file) if server.startswith("https://") else None,
        pod_cidr=answer.get("podCIDR"),
        ca_hash=ca_hash(ca_pem),
    )
    save(data_dir, creds)
    log.info("join: node %s joined %s as %s", node, server, answer.get("user"))
    return creds


def join_with_retry(
    server: str, token: JoinToken, node: str, data_dir: Path, timeout: float = JOIN_TIMEOUT
) -> Credentials:
    """``join``, retrying while the server cannot be reached (never after a refusal)."""
    deadline = time.monotonic() + timeout
    delay = 0.5
    while True:
        try:
            return join(server, token, node, data_dir)
        except errors.ServiceUnavailableError as e:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("join: %s; retrying in %.1fs", e, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def still_valid(creds: Credentials) -> bool:
    """Whether the server still accepts a stored credential (unreachable counts as yes)."""
    verify: str | bool = creds.ca_file or True
    headers = {"Authorization": f"Bearer {creds.token}"}
    url = f"{creds.server.rstrip('/')}/api/v1/nodes/{creds.node_name}"
    try:
        resp = requests.get(url, headers=headers, verify=verify, timeout=REQUEST_TIMEOUT)
    except requests.RequestException:
        return True
    return resp.status_code != 401


def credentials(
    server: str, token_text: str, node: str, data_dir: Path, *, check: bool = True
) -> Credentials:
    """This node's credential: the stored one when it is for this server, node and CA and is
    still accepted, else a new one from joining."""
    try:
        token = parse_token(token_text)
    except TokenFormatError as e:
        raise errors.BadRequestError(f"invalid join token: {e}") from e
    stored = load(data_dir)
    if (
        stored is not None
        and stored.server == server
        and stored.node_name == node
        and (token.ca_hash is None or token.ca_hash == stored.ca_hash)
        and (not check or still_valid(stored))
    ):
        log.info("join: using the stored credential of node %s", node)
        return stored
    return join_with_retry(server, token, node, data_dir)


def resolve(args: argparse.Namespace) -> None:
    """Replace a join token in the agent's flags by this node's own credential and CA."""
    if not wants_join(args.token, args.server, args.ca_file, args.insecure_skip_tls_verify):
        return
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
    creds = credentials(args.server, args.token, args.node_name, data_dir)
    args.token, args.ca_file = creds.token, creds.ca_file


def main(argv: list[str]) -> int:
    """``python -m agent join``: join (or reuse the stored credential) and print the pod CIDR."""
    p = argparse.ArgumentParser(prog="tinykube agent join")
    p.add_argument("--server", default=os.environ.get("TK_SERVER_URL"), required=False)
    tokenflags.add_flags(p)
    p.add_argument("--node-name", default=os.environ.get("TK_NODE_NAME") or os.uname().nodename)
    p.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = p.parse_args(argv)
    args.token = tokenflags.require(p, args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        creds = credentials(args.server, args.token, args.node_name, args.data_dir)
    except errors.ApiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(creds.pod_cidr or "")
    return 0
