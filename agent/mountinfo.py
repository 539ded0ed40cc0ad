"""The mounts under a directory, read from ``/proc/self/mountinfo``, and taking them down deepest
first, as ``kubeadm reset`` unmounts what is left under the kubelet's root dir: a pod's tmpfs
volumes go with its directory, and ``agent cleanup`` leaves none behind a stopped agent. ``parse``
and ``under`` are pure; ``Mounter``, ``table`` and ``unmount_under`` are the effectful shell.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

TABLE = Path("/proc/self/mountinfo")
MNT_DETACH = 2  # umount2 flag: detach now, free once unused (a container may still bind it)
MOUNT_POINT_FIELD = 4  # "36 35 98:0 /root /mount/point options ... - fstype source options"
_ESCAPE = re.compile(r"\\([0-7]{3})")  # the kernel writes space, tab, newline, \ as \ooo


class Mounter:
    """mount(2) and umount2(2) through libc: tmpfs on a volume's directory."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def mount_tmpfs(self, target: Path, mode: int, size: int | None) -> None:
        options = f"mode={mode:o}" + (f",size={size}" if size else "")
        rc = self._libc.mount(b"tmpfs", str(target).encode(), b"tmpfs", 0, options.encode())
        if rc != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"mount tmpfs on {target}: {os.strerror(errno)}")

    def unmount(self, target: Path) -> None:
        if self._libc.umount2(str(target).encode(), MNT_DETACH) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"unmount {target}: {os.strerror(errno)}")


def parse(text: str) -> list[str]:
    """The mount points of a mountinfo table, in the order they were mounted."""
    points: list[str] = []
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) > MOUNT_POINT_FIELD:
            points.append(_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), fields[MOUNT_POINT_FIELD]))
    return points


def under(points: list[str], directory: str, keep: tuple[str, ...] = ()) -> list[str]:
    """The mount points strictly below ``directory`` (not the directory itself: a root dir that is
    a mount of its own stays, as kubeadm's "/" suffix keeps /var/lib/kubelet) and not in one of
    the ``keep`` directories, deepest first and, where mounts are stacked on one point, the last
    mounted first: the order to unmount them in."""
    prefix = directory.rstrip("/") + "/"
    kept = tuple(k.rstrip("/") + "/" for k in keep)
    below = [
        (i, p)
        for i, p in enumerate(points)
        if p.startswith(prefix) and not (p + "/").startswith(kept)
    ]
    below.sort(key=lambda ip: (ip[1].count("/"), ip[0]), reverse=True)
    return [p for _, p in below]


def table(path: Path = TABLE) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""  # no procfs: nothing is known to be mounted


def unmount_under(
    directory: Path,
    mounter: Mounter | None = None,
    read: Callable[[], str] = table,
    keep: tuple[Path, ...] = (),
) -> list[OSError]:
    """Unmount everything below ``directory`` but in ``keep`` (symlinks resolved: the table has
    real paths); return what could not be unmounted (no file may be removed through it)."""
    points = under(
        parse(read()), os.path.realpath(directory), tuple(os.path.realpath(k) for k in keep)
    )
    if not points:
        return []
    mounter = mounter if mounter is not None else Mounter()
    failed: list[OSError] = []
    for point in points:
        try:
            mounter.unmount(Path(point))
            log.info("unmounted %s", point)
        except OSError as e:
            failed.append(e)
    return failed
