"""The local-path volumes' directories on this node (``<root>/storage/pvc-<uid>_<ns>_<name>``)
whose PersistentVolume is gone: the provisioner in the control plane deleted the volume (reclaim
``Delete``) but cannot reach this disk, so the agent removes what it left, as the helper pod of
rancher's provisioner does on the node. ``stale`` is pure; ``sweep`` asks the API and deletes.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from agent.apis import PVS
from agent.periodic import Periodic
from common import errors
from common.client import ApiClient

log = logging.getLogger(__name__)

# How often the directories are checked: one GET per directory, and a deleted volume's data
# should not linger long on a small disk.
SWEEP_SECONDS = 10.0
# The provisioner's directory names: the volume's name (pvc-<claim uid>), namespace, claim.
DIR_NAME = re.compile(r"^(pvc-[0-9a-f-]{36})_[a-z0-9-]+_[a-z0-9.-]+$")


def volume_of(name: str) -> str | None:
    """The PersistentVolume a directory belongs to, or None for a name the provisioner never
    makes (left alone)."""
    found = DIR_NAME.match(name)
    return found.group(1) if found else None


def stale(names: Iterable[str], exists: Callable[[str], bool]) -> list[str]:
    """The directories whose volume no longer exists."""
    out = []
    for name in names:
        volume = volume_of(name)
        if volume is not None and not exists(volume):
            out.append(name)
    return out


def sweep(storage_dir: str, client: ApiClient) -> list[str]:
    """Remove the directories of deleted volumes; returns their names."""
    root = Path(storage_dir)
    try:
        names = [p.name for p in root.iterdir() if p.is_dir()]
    except FileNotFoundError:
        return []

    def exists(volume: str) -> bool:
        try:
            client.get(PVS, volume)
        except errors.NotFoundError:
            return False
        return True  # it exists (or the answer was not a 404: keep the data)

    removed = []
    for name in stale(names, exists):
        shutil.rmtree(root / name, ignore_errors=True)
        log.info("local-path: removed %s (its volume was deleted)", name)
        removed.append(name)
    return removed


def periodic(storage_dir: str, client: ApiClient, interval: float = SWEEP_SECONDS) -> Periodic:
    """The agent's loop that sweeps ``storage_dir`` every ``interval`` seconds."""
    return Periodic("local-path", interval, lambda: sweep(storage_dir, client), interval)
