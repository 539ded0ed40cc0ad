"""``tkctl create configmap`` and ``create secret generic|tls|docker-registry``, building the
objects kubectl builds from ``--from-literal``, ``--from-file`` and ``--from-env-file`` (or the
TLS pair, or the registry credentials), sent by ``control.cli.create``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from common.resources import must
from common.wellknown import (
    DOCKER_CONFIG_JSON_KEY,
    SECRET_DOCKER_CONFIG_JSON,
    SECRET_TLS,
    TLS_CERT_KEY,
    TLS_PRIVATE_KEY_KEY,
)
from control.cli import configsources as src
from control.cli.flags import command
from control.cli.groups import TkSubGroup, group
from control.cli.output import CliError
from control.cli.session import Session, global_options

_from_literal = click.option("--from-literal", "literals", multiple=True, metavar="KEY=VALUE",
                             help="A key and literal value; repeatable.")  # fmt: skip
_from_file = click.option("--from-file", "files", multiple=True, metavar="[KEY=]PATH",
                          help="A file (key: its name) or a directory; repeatable.")  # fmt: skip
_from_env_file = click.option("--from-env-file", "env_files", multiple=True, metavar="PATH",
                              help="A file of KEY=VALUE lines; repeatable.")  # fmt: skip
_dry_run = click.option("--dry-run", type=click.Choice(["none", "client"]), default="none",
                        help="client: only print what would be sent.")  # fmt: skip
_output = click.option("-o", "--output", type=click.Choice(["yaml", "json", "name"]))


def _send(
    session: Session, plural: str, obj: dict[str, Any], dry_run: str, out: str | None
) -> None:
    from control.cli.create import send

    send(session, must(plural), obj, dry_run, out)


def _check_sources(files: tuple[str, ...], env_files: tuple[str, ...]) -> None:
    if files and env_files:
        raise CliError("from-env-file cannot be combined with from-file or from-literal")


def build_config_map(
    name: str, literals: tuple[str, ...], files: tuple[str, ...], env_files: tuple[str, ...]
) -> dict[str, Any]:
    _check_sources(files, env_files)
    pairs = [src.parse_literal(s) for s in literals] + src.read_env_files(env_files)
    if env_files and literals:
        raise CliError("from-env-file cannot be combined with from-file or from-literal")
    data, binary = src.config_map_data(name, pairs, src.read_file_sources(files))
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    if data:
        obj["data"] = data
    if binary:
        obj["binaryData"] = binary
    return obj


def _secret(name: str, kind: str, data: dict[str, str]) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}
    if data:
        obj["data"] = data
    if kind:
        obj["type"] = kind
    return obj


@command(name="configmap")
@click.argument("name")
@_from_literal
@_from_file
@_from_env_file
@_dry_run
@_output
@global_options
@click.pass_obj
def configmap(session: Session, name: str, literals: tuple[str, ...], files: tuple[str, ...],
              env_files: tuple[str, ...], dry_run: str, output: str | None) -> None:  # fmt: skip
    """Create a config map: tkctl create configmap NAME [--from-file=[key=]source]
    [--from-literal=key1=value1] [--from-env-file=source]"""
    _send(session, "configmaps", build_config_map(name, literals, files, env_files),
          dry_run, output)  # fmt: skip


@group()
def secret() -> None:
    """Create a secret: generic, tls or docker-registry."""


@command()
@click.argument("name")
@_from_literal
@_from_file
@_from_env_file
@click.option("--type", "kind", default="", help="The type of secret to create.")
@_dry_run
@_output
@global_options
@click.pass_obj
def generic(session: Session, name: str, literals: tuple[str, ...], files: tuple[str, ...],
            env_files: tuple[str, ...], kind: str, dry_run: str,
            output: str | None) -> None:  # fmt: skip
    """Create a secret from files, directories or literal values: tkctl create secret generic
    NAME [--type=string] [--from-file=[key=]source] [--from-literal=key1=value1]"""
    _check_sources(files, env_files)
    if env_files and literals:
        raise CliError("from-env-file cannot be combined with from-file or from-literal")
    pairs = [(k, v.encode()) for k, v in (src.parse_literal(s) for s in literals)]
    pairs += [(k, v.encode()) for k, v in src.read_env_files(env_files)]
    pairs += src.read_file_sources(files)
    _send(session, "secrets", _secret(name, kind, src.secret_data(pairs)), dry_run, output)


def read_key_pair(cert: str, key: str) -> tuple[bytes, bytes]:
    """The PEM files of ``create secret tls``, refused as kubectl refuses them."""
    # Imported here: only this command needs it, and every tkctl command imports this module.
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert_pem, key_pem = Path(cert).read_bytes(), Path(key).read_bytes()
    except OSError as e:
        raise CliError(f"open {e.filename}: {e.strerror.lower() if e.strerror else e}") from None
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
        private = serialization.load_pem_private_key(key_pem, None)
    except ValueError as e:
        raise CliError(f"failed to load key pair tls: {e}") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if certificate.public_key().public_bytes(der, public) != private.public_key().public_bytes(
        der, public
    ):
        raise CliError("failed to load key pair tls: private key does not match public key")
    return cert_pem, key_pem


@command()
@click.argument("name")
@click.option("--cert", default="", metavar="PATH", help="PEM encoded public key certificate.")
@click.option("--key", default="", metavar="PATH", help="PEM encoded private key.")
@_dry_run
@_output
@global_options
@click.pass_obj
def tls(session: Session, name: str, cert: str, key: str, dry_run: str,
        output: str | None) -> None:  # fmt: skip
    """Create a TLS secret: tkctl create secret tls NAME --cert=path/to/cert --key=path/to/key"""
    if not cert or not key:
        raise CliError("key and cert must be specified")
    cert_pem, key_pem = read_key_pair(cert, key)
    data = src.secret_data([(TLS_CERT_KEY, cert_pem), (TLS_PRIVATE_KEY_KEY, key_pem)])
    _send(session, "secrets", _secret(name, SECRET_TLS, data), dry_run, output)


@command(name="docker-registry")
@click.argument("name")
@click.option("--docker-server", default=src.DEFAULT_DOCKER_SERVER, show_default=True)
@click.option("--docker-username", default="")
@click.option("--docker-password", default="")
@click.option("--docker-email", default="")
@_from_file
@_dry_run
@_output
@global_options
@click.pass_obj
def docker_registry(session: Session, name: str, docker_server: str, docker_username: str,
                    docker_password: str, docker_email: str, files: tuple[str, ...],
                    dry_run: str, output: str | None) -> None:  # fmt: skip
    """Create a secret for a Docker registry: tkctl create secret docker-registry NAME
    --docker-username=user --docker-password=password --docker-email=email
    [--docker-server=string]"""
    if files:
        pairs = src.read_file_sources(files)
    elif not docker_username or not docker_password:
        raise CliError(
            "either --from-file or the combination of --docker-username, --docker-password and "
            "--docker-server is required"
        )
    else:
        config = src.docker_config_json(docker_server, docker_username, docker_password,
                                        docker_email)  # fmt: skip
        pairs = [(DOCKER_CONFIG_JSON_KEY, config)]
    obj = _secret(name, SECRET_DOCKER_CONFIG_JSON, src.secret_data(pairs))
    _send(session, "secrets", obj, dry_run, output)


assert isinstance(secret, TkSubGroup)
secret.add_command(generic)
secret.add_command(tls)
secret.add_command(docker_registry)
