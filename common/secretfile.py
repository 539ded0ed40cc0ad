"""Files that hold a secret (a token, a password): written atomically with their mode from the
start, so that they are never readable by others, not even for a moment. Effectful (files)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` atomically, with ``mode`` from the file's creation (it holds secrets)."""
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), mode)  # the umask may have removed bits that were asked for
        f.write(text)
    tmp.replace(path)


def ensure_secret(path: Path) -> str:
    """The secret kept in ``path``, made once (mode 0600) and kept across restarts."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        text = ""
    if not text:
        text = secrets.token_hex(24)
        write_private(path, text + "\n")
    os.chmod(path, 0o600)
    return text
