"""What ``create configmap`` and ``create secret`` put in their objects, as kubectl's generators
do (kubectl/pkg/cmd/create): ``--from-literal=key=value``, ``--from-file=[key=]path`` (a
directory: each regular file in it), ``--from-env-file=path`` (``KEY=VALUE`` lines), with
kubectl's messages. ``parse_*`` and ``docker_config_json`` are pure; ``read_*`` read files.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from pathlib import Path

from common.names import is_config_map_key, is_env_var_name
from control.cli.output import CliError

# The registry ``create secret docker-registry`` names by default, as kubectl.
DEFAULT_DOCKER_SERVER = "https://index.docker.io/v1/"
_BOM = "\ufeff"


def parse_literal(source: str) -> tuple[str, str]:
    """``key=value`` (the value may hold ``=``)."""
    key, eq, value = source.partition("=")
    if not eq or not key:
        raise CliError(f"invalid literal source {source}, expected key=value")
    return key, value


def parse_file_source(source: str) -> tuple[str | None, str]:
    """``[key=]path``: the key (None: the file's name) and the path."""
    if "=" not in source:
        return None, source
    key, _, path = source.partition("=")
    if not key:
        raise CliError(f"key name for file path {path} missing")
    if not path:
        raise CliError(f"file path for key name {key} missing")
    return key, path


def parse_env_file(text: str, path: str, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """kubectl's env file: ``KEY=VALUE`` lines, ``#`` comments and blank lines skipped, a bare
    ``KEY`` takes its value from the environment."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.removeprefix(_BOM) if number == 1 else raw
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        problems = is_env_var_name(key)
        if problems:
            raise CliError(f'"{key}" is not a valid key name: {"; ".join(problems)}')
        if not eq:
            value = environ.get(key, "")
        out.append((key, value))
    return out


def read_file_sources(sources: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """The (key, bytes) of every ``--from-file``; a directory gives each regular file in it."""
    out: list[tuple[str, bytes]] = []
    for source in sources:
        key, path = parse_file_source(source)
        p = Path(path)
        if p.is_dir():
            if key is not None:
                raise CliError("cannot give a key name for a directory path")
            for child in sorted(p.iterdir()):
                if child.is_file():
                    out.append((child.name, child.read_bytes()))
            continue
        try:
            content = p.read_bytes()
        except FileNotFoundError:
            raise CliError(f"error reading {path}: no such file or directory") from None
        except OSError as e:
            raise CliError(f"error reading {path}: {e.strerror}") from None
        out.append((key or p.name, content))
    return out


def read_env_files(paths: tuple[str, ...]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CliError(f"error reading {path}: no such file or directory") from None
        out.extend(parse_env_file(text, path, os.environ))
    return out


def config_map_data(
    name: str, literals: list[tuple[str, str]], files: list[tuple[str, bytes]]
) -> tuple[dict[str, str], dict[str, str]]:
    """``data`` and ``binaryData`` (base64: file contents that are not UTF-8)."""
    data: dict[str, str] = {}
    binary: dict[str, str] = {}

    def add(key: str) -> None:
        problems = is_config_map_key(key)
        if problems:
            raise CliError(f'"{key}" is not a valid key name for a ConfigMap: {",".join(problems)}')
        for section, held in (("Data", data), ("BinaryData", binary)):
            if key in held:
                raise CliError(
                    f'cannot add key "{key}", another key by that name already exists in '
                    f'{section} for ConfigMap "{name}"'
                )

    for key, value in literals:
        add(key)
        data[key] = value
    for key, content in files:
        add(key)
        try:
            data[key] = content.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(content).decode()
    return data, binary


def secret_data(pairs: list[tuple[str, bytes]]) -> dict[str, str]:
    """A Secret's ``data`` (base64), refusing bad or repeated keys as kubectl does."""
    data: dict[str, str] = {}
    for key, value in pairs:
        problems = is_config_map_key(key)
        if problems:
            raise CliError(f'"{key}" is not valid key name for a Secret {";".join(problems)}')
        if key in data:
            raise CliError(f"cannot add key {key}, another key by that name already exists")
        data[key] = base64.b64encode(value).decode()
    return data


def docker_config_json(server: str, username: str, password: str, email: str) -> bytes:
    """The ``.dockerconfigjson`` of ``create secret docker-registry`` (Docker's config file)."""
    entry: dict[str, str] = {"username": username, "password": password}
    if email:
        entry["email"] = email
    entry["auth"] = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {server: entry}}, separators=(",", ":")).encode()
