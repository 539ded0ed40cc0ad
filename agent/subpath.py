"""``subPath`` mounts with the kubelet's checks: no absolute path, no ``..``, the directory made
inside the volume without following a symlink out of it, and the final path (symlinks
resolved) still within the volume; a path that escapes is refused with the kubelet's words (which
say nothing of the host's files). Effectful (reads and makes directories).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class SubPathError(ValueError):
    """The subPath cannot be mounted (CreateContainerConfigError, with this message)."""


def check(sub_path: str) -> None:
    """The checks of the path itself, before any file is looked at."""
    if sub_path.startswith("/"):
        raise SubPathError(f"error SubPath `{sub_path}` must not be an absolute path")
    if ".." in sub_path.split("/"):
        raise SubPathError(f"unable to provision SubPath `{sub_path}`: must not contain '..'")


def within(path: str, base: str) -> bool:
    """``PathWithinBase``: ``path`` is ``base`` or under it (both already resolved)."""
    rel = os.path.relpath(path, base)
    return rel == "." or not (rel == ".." or rel.startswith("../"))


def safe_make_dir(volume: Path, sub_path: str, mode: int) -> None:
    """Make the missing directories of ``sub_path`` under ``volume``; an existing part that is
    (or leads through) a symlink out of the volume is refused."""
    base = os.path.realpath(volume)
    current = Path(base)
    for part in [p for p in sub_path.split("/") if p not in ("", ".")]:
        nxt = current / part
        if nxt.is_symlink() or nxt.exists():
            resolved = os.path.realpath(nxt)
            if not within(resolved, base):
                raise SubPathError(f"{nxt} is outside of the volume")
            current = Path(resolved)
            continue
        os.mkdir(nxt, mode)
        os.chmod(nxt, mode)
        current = nxt


def prepare(volume: Path, sub_path: str, mount: str, container: str) -> str:
    """The host path to bind for ``sub_path`` of ``volume``, made when missing, symlinks
    resolved so the engine binds exactly what was checked."""
    check(sub_path)
    path = volume / sub_path
    if not path.exists() and not path.is_symlink():
        try:
            safe_make_dir(volume, sub_path, volume.stat().st_mode & 0o7777)
        except (OSError, SubPathError) as e:
            log.warning("subPath %s of volume %s: not made: %s", sub_path, volume, e)
            raise SubPathError(
                f'failed to create subPath directory for volumeMount "{mount}" '
                f'of container "{container}"'
            ) from e
    resolved = os.path.realpath(path)
    if not os.path.exists(resolved) or not within(resolved, os.path.realpath(volume)):
        log.warning("subPath %s of volume %s: resolves to %s, refused", sub_path, volume, resolved)
        raise SubPathError(
            f'failed to prepare subPath for volumeMount "{mount}" of container "{container}"'
        )
    return resolved
