"""The control plane's certificates: a self-signed CA made once in the data dir, and a serving
certificate signed by it for every name and address clients may dial (loopback, the host's names
and addresses, ``--tls-san`` extras). The serving certificate is issued again, by the same CA, when
a wanted name is missing or it nears expiry, so join tokens (which pin the CA) stay valid.
``wanted_sans``/``missing_sans`` and the ``/proc`` parsers are pure; ``ensure`` writes files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

CA_DAYS = 3650  # as k3s: the CA outlives any serving certificate
SERVING_DAYS = 365
# A serving certificate this close to its end is issued again at start (k3s: 90 days).
RENEW_BEFORE = dt.timedelta(days=90)
LOOPBACK = ("127.0.0.1", "::1", "localhost")
# The names pods reach the API by: the ``kubernetes`` Service in ``default``, as kube-apiserver's
# serving certificate carries them (with the Service's ClusterIP).
KUBERNETES_NAMES = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    ca_key: Path
    cert: Path
    key: Path

    @classmethod
    def under(cls, directory: Path) -> TlsFiles:
        return cls(
            directory / "server-ca.crt",
            directory / "server-ca.key",
            directory / "serving.crt",
            directory / "serving.key",
        )


def parse_fib_trie(text: str) -> list[str]:
    """The IPv4 addresses of this host's interfaces, from ``/proc/net/fib_trie``."""
    found: list[str] = []
    last = ""
    for line in text.splitlines():
        part = line.strip()
        if part.startswith(("|--", "+--")):
            last = part[3:].strip().split()[0]
        elif part == "/32 host LOCAL" and last and last not in found:
            found.append(last)
    return found


def parse_if_inet6(text: str) -> list[str]:
    """The IPv6 addresses of this host's interfaces, from ``/proc/net/if_inet6``."""
    found = []
    for line in text.splitlines():
        raw = line.split()[0] if line.split() else ""
        if len(raw) == 32:
            addr = ipaddress.IPv6Address(int(raw, 16))
            if not addr.is_link_local and str(addr) not in found:
                found.append(str(addr))
    return found


def host_addresses() -> list[str]:
    out: list[str] = []
    sources = [("/proc/net/fib_trie", parse_fib_trie), ("/proc/net/if_inet6", parse_if_inet6)]
    for path, parse in sources:
        try:
            out += parse(Path(path).read_text())
        except (OSError, ValueError):
            continue
    return out


def host_names() -> list[str]:
    names = [socket.gethostname()]
    with contextlib.suppress(OSError):
        names.append(socket.getfqdn())
    return names


def wanted_sans(names: list[str], addresses: list[str], extra: list[str]) -> list[str]:
    """Loopback, then the host's names and addresses, then the extras; each once, in order."""
    out: list[str] = []
    for value in (*LOOPBACK, *names, *addresses, *extra):
        value = value.strip().lower()
        if value and value not in out:
            out.append(value)
    return out


def service_sans(kubernetes_ip: str) -> list[str]:
    """The ``kubernetes`` Service's ClusterIP and DNS names."""
    return [kubernetes_ip, *KUBERNETES_NAMES]


def _general_name(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


def sans_of(cert: x509.Certificate) -> set[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    dns = {str(n).lower() for n in ext.get_values_for_type(x509.DNSName)}
    ips = {str(a) for a in ext.get_values_for_type(x509.IPAddress)}
    return dns | ips


def missing_sans(have: set[str], wanted: list[str]) -> list[str]:
    norm = {_normal(v) for v in have}
    return [w for w in wanted if _normal(w) not in norm]


def _normal(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value.lower()


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tinykube"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def make_ca(now: dt.datetime) -> tuple[bytes, bytes]:
    """A new CA: (certificate PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"tinykube-server-ca@{int(now.timestamp())}")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def make_serving(
    ca_pem: bytes, ca_key_pem: bytes, sans: list[str], now: dt.datetime
) -> tuple[bytes, bytes]:
    """A serving certificate for ``sans`` signed by the CA: (certificate PEM, key PEM)."""
    ca = x509.load_pem_x509_certificate(ca_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("tinykube-apiserver"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVING_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(s) for s in sans]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def serving_sans(files: TlsFiles, wanted: list[str], now: dt.datetime) -> list[str] | None:
    """The names a new serving certificate must carry, or None when the current one will do.
    Names of the current certificate are kept (clients may still dial them)."""
    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        files.key.stat()
    except (OSError, ValueError):
        return wanted
    have = sans_of(cert)
    missing = missing_sans(have, wanted)
    if not missing and cert.not_valid_after_utc - now >= RENEW_BEFORE:
        return None
    return wanted + [h for h in sorted(have) if _normal(h) not in {_normal(w) for w in wanted}]


def ensure(directory: Path, extra_sans: list[str], now: dt.datetime | None = None) -> TlsFiles:
    """Make the CA (once) and a serving certificate covering every wanted name; return the paths."""
    now = now or dt.datetime.now(dt.UTC)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    files = TlsFiles.under(directory)
    if not files.ca_cert.exists() or not files.ca_key.exists():
        ca_pem, ca_key = make_ca(now)
        _write_private(files.ca_key, ca_key)
        _write_public(files.ca_cert, ca_pem)
        files.cert.unlink(missing_ok=True)
        log.info("tls: made a new CA in %s", files.ca_cert)
    sans = serving_sans(files, wanted_sans(host_names(), host_addresses(), extra_sans), now)
    if sans is not None:
        cert, key = make_serving(files.ca_cert.read_bytes(), files.ca_key.read_bytes(), sans, now)
        _write_private(files.key, key)
        _write_public(files.cert, cert)
        log.info("tls: issued a serving certificate for %s", ", ".join(sans))
    return files
