"""How the control plane reaches Redis with its credentials: the password comes from a file
(``--redis-password-file``) or the environment (``TINYKUBE_REDIS_PASSWORD``), never the command
line; at start the control plane refuses a Redis that rejects them (exit 1) and warns when the
Redis it is given needs none. Effectful (files, the network).
"""

from __future__ import annotations

import argparse
import logging
import os
import stat
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from common import errors
from control import encryption
from control.redis_store import DEFAULT_CONNECTIONS, DEFAULT_STREAM_CONNECTIONS, RedisStore

log = logging.getLogger(__name__)

PASSWORD_ENV = "TINYKUBE_REDIS_PASSWORD"
PASSWORD_FILE_ENV = "TINYKUBE_REDIS_PASSWORD_FILE"
# How long the control plane waits for a Redis that does not answer yet (one starting up).
STORE_WAIT = 30.0


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--redis-password-file",
        type=Path,
        default=os.environ.get(PASSWORD_FILE_ENV),
        metavar="PATH",
        help=f"Redis's password (requirepass, or the password of the ACL user the URL names) "
        f"is in this file (default: ${PASSWORD_FILE_ENV}, else ${PASSWORD_ENV} holds it)",
    )


def redacted(url: str) -> str:
    """``url`` without the password it may carry, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else ":***@"
    netloc = user + parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc))


def password_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    if args.redis_password_file:
        return Path(args.redis_password_file).read_text().strip() or None
    return env.get(PASSWORD_ENV) or None


def connect(
    args: argparse.Namespace,
    max_connections: int = DEFAULT_CONNECTIONS,
    stream_connections: int = DEFAULT_STREAM_CONNECTIONS,
) -> RedisStore:
    """The store (with pools of ``max_connections`` for short calls and ``stream_connections``
    for stream reads), once Redis answers and accepts our credentials.

    Raises ``StoreCredentialsError`` at once when Redis refuses them (a retry cannot help),
    ``ServiceUnavailableError`` when it does not answer within ``STORE_WAIT``, and
    ``encryption.ConfigError`` for an ``--encryption-provider-config`` it cannot use."""
    path = getattr(args, "encryption_provider_config", None)
    transformers = encryption.load(path) if path else None
    if urlsplit(args.redis_url).password:
        log.warning(
            "redis: the password in --redis-url is visible to every local user (ps); "
            "use --redis-password-file or $%s",
            PASSWORD_ENV,
        )
    store = RedisStore(args.redis_url, prefix=args.redis_prefix, password=password_from(args),
                       max_connections=max_connections, stream_connections=stream_connections,
                       transformers=transformers)  # fmt: skip
    try:
        wait_for_store(store)
    except errors.StoreCredentialsError as e:
        store.close()
        raise errors.StoreCredentialsError(
            f"redis {redacted(args.redis_url)} refused the control plane's credentials ({e}); "
            f"give its password with --redis-password-file or ${PASSWORD_ENV}"
        ) from e
    if not store.requires_auth() and not _private_socket(args.redis_url):
        log.warning(
            "redis %s requires no password: any local process can read and write the "
            "cluster's state; give it one (requirepass) and pass it with --redis-password-file",
            redacted(args.redis_url),
        )
    return store


def unreadable_values(args: argparse.Namespace, store: RedisStore) -> str | None:
    """Why the API server must not start: stored values its encryption keys cannot read (a
    wrong or missing key would otherwise be found one failed request at a time)."""
    for resource in store.transformers:
        count, problems = store.unreadable(resource)
        if count:
            return (
                f"{count} stored {resource} cannot be read with --encryption-provider-config "
                f"{args.encryption_provider_config}: {problems[0]}; list the key they were "
                "written with among the file's providers (every key listed is used to read)"
            )
    return None


def wait_for_store(store: RedisStore, timeout: float = STORE_WAIT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            store.ping()
            return
        except errors.StoreCredentialsError:
            raise
        except errors.ServiceUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _private_socket(url: str) -> bool:
    """A unix socket that only its owner can reach (as ``scripts/install.sh`` makes it) needs no
    password: the file modes keep other users out."""
    parts = urlsplit(url)
    if parts.scheme != "unix":
        return False
    path = Path(parts.path)
    try:
        sock, parent = path.stat().st_mode, path.parent.stat().st_mode
    except OSError:
        return False
    others_write = stat.S_IWGRP | stat.S_IWOTH
    others_enter = stat.S_IXGRP | stat.S_IXOTH
    return not sock & others_write or not parent & others_enter
