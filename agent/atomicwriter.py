"""Write a volume's files atomically, as the kubelet's ``AtomicWriter``: the files go into a new
hidden timestamped directory (``..2026_12_05_04_30_00.123``), the ``..data`` symlink is pointed
at it by renaming a fresh symlink over it, and the names users see are symlinks through
``..data`` (``key -> ..data/key``). A reader therefore sees the old files or the new ones, never
half of each. Effectful (the filesystem).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = "..data"
NEW_DATA_DIR = "..data_tmp"
MAX_PATH_LENGTH = 4096
MAX_FILE_NAME_LENGTH = 255


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int


class PayloadError(ValueError):
    """A path of the payload is not a safe relative path (the kubelet's ``validatePath``)."""


def validate_path(target: str) -> None:
    if not target:
        raise PayloadError(f'invalid path: must not be empty: "{target}"')
    if target.startswith("/"):
        raise PayloadError(f"invalid path: must be relative path: {target}")
    if len(target) > MAX_PATH_LENGTH:
        raise PayloadError(
            f"invalid path: must be less than or equal to {MAX_PATH_LENGTH} characters"
        )
    items = target.split("/")
    for item in items:
        if item == "..":
            raise PayloadError(f"invalid path: must not contain '..': {target}")
        if len(item) > MAX_FILE_NAME_LENGTH:
            raise PayloadError(
                "invalid path: filenames must be less than or equal to "
                f"{MAX_FILE_NAME_LENGTH} characters"
            )
    if items[0].startswith("..") and len(items[0]) > 2:
        raise PayloadError(f"invalid path: must not start with '..': {target}")


def clean_payload(payload: Mapping[str, FileProjection]) -> dict[str, FileProjection]:
    clean: dict[str, FileProjection] = {}
    for path, projection in payload.items():
        validate_path(path)
        clean[os.path.normpath(path)] = projection
    return clean


def _files_under(directory: Path) -> dict[str, FileProjection]:
    found: dict[str, FileProjection] = {}
    for root, _dirs, files in os.walk(directory):
        for name in files:
            full = Path(root, name)
            rel = str(full.relative_to(directory))
            found[rel] = FileProjection(full.read_bytes(), full.stat().st_mode & 0o7777)
    return found


def _paths_under(directory: Path) -> set[str]:
    paths: set[str] = set()
    for root, dirs, files in os.walk(directory):
        for name in [*dirs, *files]:
            paths.add(str(Path(root, name).relative_to(directory)))
    return paths


def _timestamp_dir(target: Path) -> Path:
    now = time.time()
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime(now))
    path = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    path.chmod(0o755)
    return path


def _write_payload(payload: Mapping[str, FileProjection], directory: Path) -> None:
    for rel, projection in payload.items():
        full = os.path.join(directory, rel)
        if "/" in rel:
            os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            view = memoryview(projection.data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, projection.mode)  # not the umask's: the mode asked for
        finally:
            os.close(fd)


def current(target: Path) -> str:
    """The directory ``..data`` points at ("" when there is none)."""
    try:
        return os.readlink(target / DATA_DIR)
    except OSError:
        return ""


def write(target: Path, payload: Mapping[str, FileProjection]) -> bool:
    """Make ``target`` hold exactly ``payload``; return whether anything changed."""
    clean = clean_payload(payload)
    data_link = target / DATA_DIR
    try:
        old_ts = os.readlink(data_link)
    except FileNotFoundError:
        old_ts = ""
    old_path = target / old_ts if old_ts else None
    if old_path is not None and old_path.is_dir() and _files_under(old_path) == clean:
        _create_visible(target, clean)  # a crash between the swap and this leaves them missing
        return False
    to_remove: set[str] = set()
    if old_path is not None and old_path.is_dir():
        keep = {str(Path(p)) for p in clean} | {
            str(parent) for p in clean for parent in Path(p).parents if str(parent) != "."
        }
        to_remove = _paths_under(old_path) - keep
    ts_dir = _timestamp_dir(target)
    _write_payload(clean, ts_dir)
    if old_ts:
        new_link = target / NEW_DATA_DIR
        new_link.unlink(missing_ok=True)
        os.symlink(ts_dir.name, new_link)
        os.rename(new_link, data_link)
    else:  # nothing to swap out: making the link is atomic by itself
        os.symlink(ts_dir.name, data_link)
    for path in to_remove:
        if "/" not in path:  # only the entries at the top are user-visible symlinks
            (target / path).unlink(missing_ok=True)
    _create_visible(target, clean)
    if old_path is not None and old_ts != ts_dir.name:
        shutil.rmtree(old_path, ignore_errors=True)
    return True


def _create_visible(target: Path, payload: Mapping[str, FileProjection]) -> None:
    for rel in payload:
        top = rel.split("/")[0]
        visible = os.path.join(target, top)
        try:
            os.lstat(visible)  # there already (a symlink, dangling or not, or anything else)
        except FileNotFoundError:
            os.symlink(f"{DATA_DIR}/{top}", visible)
