"""Bound service-account tokens, as kube-apiserver's serviceaccount.JWTTokenGenerator writes them
and its JWTTokenAuthenticator reads them: ES256 JWTs (PyJWT) with ``iss``, ``sub``
(``system:serviceaccount:<ns>:<name>``), ``aud``, ``exp``, ``iat``, ``nbf``, ``jti`` and the
``kubernetes.io`` private claims (namespace, service account name/uid, the bound pod's and its
node's name/uid). Pure but for reading or making the signing key file.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from common.secretfile import write_private

ALGORITHM = "ES256"
# kube-apiserver's --service-account-issuer as k3s sets it; also the default API audience.
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# TokenRequest's default expirationSeconds (an hour).
DEFAULT_EXPIRATION_SECONDS = 3600
SA_PREFIX = "system:serviceaccount:"
SA_GROUP = "system:serviceaccounts"
PRIVATE_CLAIMS = "kubernetes.io"
# The extra keys kube-apiserver gives a service account user (authentication/serviceaccount).
EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


class TokenError(Exception):
    """A token that is not a valid service-account token (the authenticator refuses it)."""


@dataclass(frozen=True)
class SigningKey:
    private: ec.EllipticCurvePrivateKey

    @functools.cached_property
    def key_id(self) -> str:
        """kube-apiserver's ``kid``: the URL-safe base64 SHA-256 of the public key's DER
        (computed once: every token signed carries it)."""
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


@dataclass(frozen=True)
class Issuer:
    """What signs and checks tokens: the key, the ``iss`` written and the audiences the API
    server accepts (kube-apiserver's --api-audiences, by default the issuer)."""

    key: SigningKey
    issuer: str = DEFAULT_ISSUER
    audiences: tuple[str, ...] = (DEFAULT_ISSUER,)


@dataclass(frozen=True)
class Claims:
    """What a valid token says (ServiceAccountInfo)."""

    namespace: str
    name: str
    uid: str
    pod_name: str = ""
    pod_uid: str = ""
    node_name: str = ""
    node_uid: str = ""
    token_id: str = ""
    audiences: tuple[str, ...] = ()
    expires: int = 0

    @property
    def username(self) -> str:
        return f"{SA_PREFIX}{self.namespace}:{self.name}"


def ensure_key(path: Path) -> SigningKey:
    """The key in ``path`` (PEM), made (P-256, mode 0600) when the file does not exist."""
    if not path.exists():
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, pem.decode())
    return load_key(path)


def load_key(path: Path) -> SigningKey:
    """The signing key of a PEM file; ``ValueError`` when it holds no EC P-256 private key."""
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or loaded.curve.name != "secp256r1":
        raise ValueError(f"{path}: not an ECDSA P-256 private key (ES256)")
    return SigningKey(loaded)


def username(namespace: str, name: str) -> str:
    return f"{SA_PREFIX}{namespace}:{name}"


def split_username(user: str) -> tuple[str, str] | None:
    """``(namespace, name)`` of a service account's user name, or None."""
    if not user.startswith(SA_PREFIX):
        return None
    namespace, _, name = user[len(SA_PREFIX) :].partition(":")
    return (namespace, name) if namespace and name and ":" not in name else None


def groups(namespace: str) -> tuple[str, ...]:
    return (SA_GROUP, f"{SA_GROUP}:{namespace}")


def _meta(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (obj or {}).get("metadata") or {}


def claims_of(
    issuer: Issuer,
    sa: Mapping[str, Any],
    audiences: Sequence[str],
    seconds: int,
    now: int,
    pod: Mapping[str, Any] | None = None,
    node: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The claims kube-apiserver writes for a TokenRequest (``serviceaccount.Claims``)."""
    namespace, name = str(_meta(sa).get("namespace")), str(_meta(sa).get("name"))
    private: dict[str, Any] = {"namespace": namespace}
    if node is not None:
        private["node"] = {"name": _meta(node).get("name"), "uid": _meta(node).get("uid")}
    if pod is not None:
        private["pod"] = {"name": _meta(pod).get("name"), "uid": _meta(pod).get("uid")}
    private["serviceaccount"] = {"name": name, "uid": _meta(sa).get("uid")}
    return {
        "aud": list(audiences or issuer.audiences),
        "exp": now + seconds,
        "iat": now,
        "iss": issuer.issuer,
        "jti": str(uuid.uuid4()),
        PRIVATE_CLAIMS: private,
        "nbf": now,
        "sub": username(namespace, name),
    }


def sign(issuer: Issuer, claims: Mapping[str, Any]) -> str:
    return jwt.encode(
        dict(claims), issuer.key.private, algorithm=ALGORITHM, headers={"kid": issuer.key.key_id}
    )


def verify(issuer: Issuer, token: str, now: int, audiences: Sequence[str] | None = None) -> Claims:
    """The claims of a token this issuer signed, for one of ``audiences`` (default: the API
    server's), not expired and not before its ``nbf``; raises ``TokenError``."""
    wanted = list(audiences or issuer.audiences)
    try:
        raw = jwt.decode(
            token,
            issuer.key.private.public_key(),
            algorithms=[ALGORITHM],
            audience=wanted,
            issuer=issuer.issuer,
            options={"require": ["exp", "iat", "nbf", "iss", "sub", "aud"], "verify_iat": False},
            leeway=0,
        )
        # PyJWT judges time by the wall clock; judge it again by ``now`` (the caller's clock).
        if int(raw["exp"]) <= now or int(raw["nbf"]) > now:
            raise TokenError("service account token has expired")
    except jwt.ExpiredSignatureError as e:
        raise TokenError("service account token has expired") from e
    except jwt.InvalidAudienceError as e:
        raise TokenError("token audiences is invalid") from e
    except jwt.PyJWTError as e:
        raise TokenError(f"invalid token: {e}") from e
    return _claims(raw)


def _claims(raw: Mapping[str, Any]) -> Claims:
    private = raw.get(PRIVATE_CLAIMS)
    if not isinstance(private, dict):
        raise TokenError("service account token claims could not be retrieved")
    sa, pod, node = (private.get(k) or {} for k in ("serviceaccount", "pod", "node"))
    namespace = str(private.get("namespace") or "")
    if split_username(str(raw.get("sub"))) != (namespace, str(sa.get("name") or "")):
        raise TokenError("sub claim is invalid")
    aud = raw.get("aud")
    return Claims(
        namespace=namespace,
        name=str(sa.get("name") or ""),
        uid=str(sa.get("uid") or ""),
        pod_name=str(pod.get("name") or ""),
        pod_uid=str(pod.get("uid") or ""),
        node_name=str(node.get("name") or ""),
        node_uid=str(node.get("uid") or ""),
        token_id=str(raw.get("jti") or ""),
        audiences=tuple(aud) if isinstance(aud, list) else (str(aud),),
        expires=int(raw["exp"]),
    )
