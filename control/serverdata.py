"""The control plane's data dir (``--data-dir``, k3s's ``/var/lib/rancher/k3s/server``): the CA
and serving certificate (``tls/``), the node join token (``node-token``, mode 0600, kept across
restarts), the admin token file (``tokens.csv``) when none is given, and the admin kubeconfig.
Effectful (files); ``is_loopback`` and ``admin_kubeconfig`` are pure.
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import logging
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from common.jointoken import TokenFormatError, format_token, parse_token
from common.kubeconfig import kubeconfig_document
from common.secretfile import write_private
from control import satokens, tls
from control.apiserver.join import JoinSettings
from control.apiserver.nodetokens import NodeTokens
from control.controllers.nodeipam import NodeIpamController
from control.controllers.serviceaccounts import RootCAPublisher
from control.informers import SharedInformers
from control.manager import Loop
from control.podcidrs import DEFAULT_MASK, PodCidrs
from control.registry.registry import Registry
from control.store import Store

log = logging.getLogger(__name__)

ADMIN_USER = "admin"


class SigningKeyError(Exception):
    """The service-account signing key cannot be read or made: the server does not start."""


@dataclass(frozen=True)
class ServerData:
    directory: Path
    tls: tls.TlsFiles
    ca_pem: bytes
    join_secret: str
    join_token: str
    token_file: Path
    new_token: bool  # the join token was made by this start


def default_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/tinykube/server")
    return Path("~/.tinykube/server").expanduser()


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def _join_secret(path: Path) -> str | None:
    try:
        return parse_token(path.read_text()).secret
    except (OSError, TokenFormatError):
        return None


def _admin_token_file(directory: Path) -> Path:
    path = directory / "tokens.csv"
    if not path.exists():
        token = secrets.token_hex(24)
        write_private(path, f'{token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        log.info("made the admin token file %s", path)
    return path


def prepare(
    directory: Path, extra_sans: list[str], token_file: Path | None, secret: str | None = None
) -> ServerData:
    """Make what is missing in ``directory`` and return it; keeps what is already there."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    files = tls.ensure(directory / "tls", extra_sans)
    ca_pem = files.ca_cert.read_bytes()
    token_path = directory / "node-token"
    old = _join_secret(token_path)
    join_secret = secret or old or secrets.token_hex(16)
    token = format_token(ca_pem, join_secret)
    current = token_path.read_text().strip() if token_path.exists() else ""
    if current != token:
        write_private(token_path, token + "\n")
    return ServerData(
        directory=directory,
        tls=files,
        ca_pem=ca_pem,
        join_secret=join_secret,
        join_token=token,
        token_file=token_file or _admin_token_file(directory),
        new_token=current != token,
    )


def admin_token(token_file: Path) -> str | None:
    """The first ``system:masters`` token of a static token file."""
    for line in token_file.read_text().splitlines():
        parts = line.split(",", 3)
        if len(parts) > 3 and "system:masters" in parts[3] and not parts[0].startswith("#"):
            return parts[0].strip()
    return None


def admin_kubeconfig(server: str, token: str, ca_pem: bytes | None) -> dict[str, Any]:
    doc = kubeconfig_document(server, token)
    if ca_pem is not None:
        doc["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(
            ca_pem
        ).decode()
    return doc


def write_kubeconfig(path: Path, server: str, token: str, ca_pem: bytes | None, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(admin_kubeconfig(server, token, ca_pem), sort_keys=False)
    write_private(path, text, mode)


# -- flags of ``tinykube control`` ----------------------------------------------------------------


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        help=f"CA, join token and admin token (default: {default_dir()} when needed)",
    )
    p.add_argument("--tls", action="store_true", help="serve HTTPS on loopback too")
    p.add_argument("--tls-san", action="append", default=[], metavar="NAME",
                   help="another name or address for the serving certificate")  # fmt: skip
    p.add_argument("--write-kubeconfig", type=Path, metavar="PATH",
                   help="write an admin kubeconfig there")  # fmt: skip
    p.add_argument("--write-kubeconfig-mode", default="0600", metavar="MODE")
    p.add_argument(
        "--cluster-cidr", help="give each node a pod CIDR from this range (spec.podCIDR)"
    )
    p.add_argument("--node-cidr-mask-size", type=int, default=DEFAULT_MASK, metavar="BITS")
    p.add_argument(
        "--service-account-signing-key-file", type=Path, metavar="PATH",
        help="the ECDSA P-256 private key (PEM) that signs service-account tokens (default: "
        "DATA/tls/service.key, made once)",
    )  # fmt: skip
    p.add_argument("--service-account-issuer", default=satokens.DEFAULT_ISSUER, metavar="URL",
                   help="the iss claim of service-account tokens, and the audience the API "
                   "server accepts (default: %(default)s)")  # fmt: skip


@dataclass(frozen=True)
class Setup:
    token_file: Path
    data: ServerData | None
    gunicorn: dict[str, Any]  # certfile/keyfile when serving HTTPS
    tokens: NodeTokens
    extra: dict[str, Any]  # ServerConfig.extra: the join endpoints' settings
    cidrs: PodCidrs | None = None
    service_accounts: satokens.Issuer | None = None  # None: no service-account tokens

    @property
    def scheme(self) -> str:
        return "https" if self.gunicorn else "http"


def pod_cidrs(args: argparse.Namespace, store: Store) -> PodCidrs | None:
    """The pod CIDR allocator ``--cluster-cidr`` asks for, if any."""
    if not args.cluster_cidr:
        return None
    return PodCidrs(store, args.cluster_cidr, args.node_cidr_mask_size)


def loops(args: argparse.Namespace, registry: Registry, informers: SharedInformers) -> list[Loop]:
    """The control loops these flags add to the default ones."""
    cidrs = pod_cidrs(args, registry.store)
    out: list[Loop] = [NodeIpamController(registry, cidrs, informers)] if cidrs else []
    ca = _cluster_ca(args)
    if ca is not None:
        out.append(RootCAPublisher(registry, informers, ca))
    return out


def _cluster_ca(args: argparse.Namespace) -> str | None:
    """The CA of the data dir (the API server's serving CA), which pods trust; None without."""
    try:
        directory = _data_dir(args)
        if directory is None:
            return None
        return tls.TlsFiles.under(directory / "tls").ca_cert.read_text()
    except OSError:
        return None


def setup(args: argparse.Namespace, store: Store) -> Setup:
    """What the flags ask for: TLS beyond loopback (or with ``--tls``), the data dir's files."""
    pods = getattr(args, "pod_network_address", None)
    serve_tls = _serves_tls(args)
    directory = _data_dir(args)
    tokens = NodeTokens(store)
    cidrs = pod_cidrs(args, store)
    data = None
    if directory is not None:
        sans = [*args.tls_san, *_service_sans(args), *([pods] if pods else [])]
        data = prepare(directory.expanduser().resolve(), sans, args.token_auth_file)
        where = data.directory / "node-token"
        if data.new_token:
            print(f"tinykube: node join token (also in {where}): {data.join_token}",
                  file=sys.stderr, flush=True)  # fmt: skip
        else:
            print(f"tinykube: node join token in {where}", file=sys.stderr, flush=True)
    token_file = data.token_file if data else args.token_auth_file
    options: dict[str, Any] = {}
    if data is not None and serve_tls:
        options = {"certfile": str(data.tls.cert), "keyfile": str(data.tls.key)}
    extra: dict[str, Any] = {}
    if data is not None:
        allocate = cidrs.allocate if cidrs else None
        extra["join"] = JoinSettings(data.ca_pem, data.join_secret, tokens, allocate)
    out = Setup(token_file, data, options, tokens, extra, cidrs, _token_issuer(args, data))
    if args.write_kubeconfig:
        _write_admin_kubeconfig(args, out)
    return out


def _serves_tls(args: argparse.Namespace) -> bool:
    pods = getattr(args, "pod_network_address", None)
    return bool(args.tls) or not is_loopback(args.bind_address) or bool(pods)


def _data_dir(args: argparse.Namespace) -> Path | None:
    """The data dir the flags use: ``--data-dir``, else the default one when TLS or the admin
    token file needs it, else none."""
    directory: Path | None = args.data_dir
    if directory is None and (_serves_tls(args) or args.token_auth_file is None):
        directory = default_dir()
    return directory.expanduser().resolve() if directory is not None else None


def signs_tokens(args: argparse.Namespace) -> bool:
    """Whether the API server signs service-account tokens (so the ServiceAccount admission
    runs, in the controller process too): a key file given, or the data dir's."""
    if getattr(args, "service_account_signing_key_file", None) is not None:
        return True
    directory = _data_dir(args)
    return directory is not None and (directory / "tls" / "service.key").exists()


def _token_issuer(args: argparse.Namespace, data: ServerData | None) -> satokens.Issuer | None:
    """The service-account token signer: the key file given, else the data dir's (made once, as
    k3s makes ``server/tls/service.key``); none without either."""
    path: Path | None = getattr(args, "service_account_signing_key_file", None)
    if path is None and data is not None:
        path = data.directory / "tls" / "service.key"
    if path is None:
        return None
    try:
        key = satokens.ensure_key(path)
    except (OSError, ValueError) as e:
        raise SigningKeyError(f"--service-account-signing-key-file: {e}") from e
    issuer = str(getattr(args, "service_account_issuer", satokens.DEFAULT_ISSUER))
    return satokens.Issuer(key, issuer, (issuer,))


def _service_sans(args: argparse.Namespace) -> list[str]:
    """The ``kubernetes`` Service's address (the first of --service-cluster-ip-range) and names,
    so pods that dial it by either verify the API's certificate."""
    network = getattr(args, "service_cluster_ip_range", None)
    if network is None:
        return []
    return tls.service_sans(str(ipaddress.ip_network(network).network_address + 1))


def _write_admin_kubeconfig(args: argparse.Namespace, setup: Setup) -> None:
    host = args.bind_address
    if is_loopback(host) or host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    ca = setup.data.ca_pem if setup.data and setup.gunicorn else None
    server = f"{setup.scheme}://{host}:{args.port}"
    token = admin_token(setup.token_file) or ""
    write_kubeconfig(args.write_kubeconfig, server, token, ca, int(args.write_kubeconfig_mode, 8))
