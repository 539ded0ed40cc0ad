"""A pod's volumes on this node, as the kubelet lays them out under its root dir
(``pods/<uid>/volumes/kubernetes.io~<plugin>/<name>``): ``setup`` makes each directory (tmpfs
where memory-backed and allowed) and writes API-data volumes through ``atomicwriter`` at every
sync (skipped while the files this agent last wrote there are unchanged and in place);
``mounts`` turns ``volumeMounts`` into binds (subPath checked); ``teardown`` unmounts and
removes it all once the pod's containers are gone. Effectful (filesystem, mount(2)).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent import atomicwriter, claims, envvars, mountinfo, subpath, volumeplan
from agent.configrefs import Lookup
from agent.mountinfo import Mounter
from agent.runtime import Mount
from agent.volumeplan import VolumeError

log = logging.getLogger(__name__)

Payload = dict[str, atomicwriter.FileProjection]

PODS_DIR = "pods"
# In each pod's directory: "<cluster uid> <node>", so agents sharing a root dir (several nodes of
# a compose project, several clusters) never take each other's pods for orphans.
OWNER_FILE = ".owner"
# An emptyDir is writable by every user of every container, as the kubelet makes it.
EMPTY_DIR_MODE = 0o777
API_DATA_MODE = 0o755
ENGINE_PROCESS = "dockerd"


def owner(cluster: str, node: str) -> str:
    return f"{cluster} {node}"


def engine_shares_mounts(proc: Path = Path("/proc")) -> bool:
    """Whether a Docker engine runs in this process's mount namespace, so that a mount made here
    is what it binds (false for an agent in a container that talks to the host's engine)."""
    try:
        mine = os.readlink(proc / "self" / "ns" / "mnt")
    except OSError:
        return False
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == ENGINE_PROCESS:
                return os.readlink(entry / "ns" / "mnt") == mine
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return False


def default_tmpfs() -> bool:
    """tmpfs for secrets and memory emptyDirs where the agent is root and shares the engine's
    mounts."""
    return os.geteuid() == 0 and engine_shares_mounts()


_HOST_PATH_KINDS = {
    "Directory": (stat.S_ISDIR, "a directory"),
    "File": (stat.S_ISREG, "a file"),
    "Socket": (stat.S_ISSOCK, "a socket file"),
    "CharDevice": (stat.S_ISCHR, "a character device"),
    "BlockDevice": (stat.S_ISBLK, "a block device"),
}


def check_host_path(source: Mapping[str, Any]) -> None:
    """The kubelet's hostPath ``type`` check; ``...OrCreate`` (and no type, as Docker's binds
    did) make what is missing."""
    path, kind = Path(str(source.get("path") or "")), str(source.get("type") or "")
    if kind in ("", "DirectoryOrCreate") and not path.exists():
        path.mkdir(parents=True, mode=0o755)
    elif kind == "FileOrCreate" and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        path.touch(mode=0o644)
    kind = kind.removesuffix("OrCreate")
    if not kind:
        return
    if kind not in _HOST_PATH_KINDS:
        raise VolumeError(f"{kind} is an invalid volume type")
    test, what = _HOST_PATH_KINDS[kind]
    try:
        ok = test(path.stat().st_mode)
    except OSError:
        ok = False
    if not ok:
        raise VolumeError(f"hostPath type check failed: {path} is not {what}")


class VolumeManager:
    """The volume directories of one node's pods; safe for several threads on distinct pods."""

    def __init__(
        self,
        data_dir: Path,
        *,
        owner: str = "",
        tmpfs: bool = False,
        allocatable: Callable[[], Mapping[str, Any]] = dict,
        mounter: Mounter | None = None,
        mount_table: Callable[[], str] = mountinfo.table,
    ) -> None:
        self.root = data_dir / PODS_DIR
        self.owner = owner
        self.tmpfs = tmpfs
        self.allocatable = allocatable
        self.mounter = mounter if mounter is not None or not tmpfs else Mounter()
        self.mount_table = mount_table
        # (pod uid, volume name) -> the directory of the volume its claim is bound to (this lock
        # also guards ``_written``).
        self._claimed: dict[tuple[str, str], claims.ClaimedVolume] = {}
        self._claimed_lock = threading.Lock()
        # (pod uid, volume name) -> (the ``..data`` target, the payload) last written there: a
        # sync that computes the same payload leaves the directory alone (no re-read, no write).
        self._written: dict[tuple[str, str], tuple[str, Payload]] = {}

    def pod_dir(self, uid: str) -> Path:
        return self.root / uid

    def volume_dir(self, uid: str, volume: Mapping[str, Any]) -> Path:
        kind = volumeplan.kind_of(volume) or "unknown"
        return self.pod_dir(uid) / "volumes" / volumeplan.PLUGINS[kind] / str(volume["name"])

    def pod_uids(self) -> list[str]:
        """The pods of this owner that have a directory here."""
        try:
            return [p.name for p in self.root.iterdir() if p.is_dir() and self._mine(p)]
        except FileNotFoundError:
            return []

    def owned_by(self, uid: str, cluster: str, node: str | None = None) -> bool:
        """Whether the pod's directory was made by an agent of ``cluster`` (on ``node``)."""
        text = self._owner_of(uid)
        made_by, _, on = (text or "").partition(" ")
        return text is not None and made_by == cluster and node in (None, on)

    def _owner_of(self, uid: str) -> str | None:
        try:
            return (self.pod_dir(uid) / OWNER_FILE).read_text()
        except OSError:
            return None

    def _mine(self, pod_dir: Path) -> bool:
        if not self.owner:
            return True
        try:
            return (pod_dir / OWNER_FILE).read_text() == self.owner
        except OSError:
            return False

    # -- set-up ----------------------------------------------------------------------------

    def setup(
        self,
        pod: Mapping[str, Any],
        lookup: Lookup,
        tokens: volumeplan.TokenFetcher | None = None,
    ) -> dict[str, str]:
        """Make every volume of ``pod`` ready; return volume name → why it could not be."""
        failed: dict[str, str] = {}
        uid = str(pod["metadata"]["uid"])
        volumes = (pod.get("spec") or {}).get("volumes") or []
        pod_dir = self.pod_dir(uid)
        if volumes and not pod_dir.is_dir():
            pod_dir.mkdir(parents=True, mode=0o750)
            (pod_dir / OWNER_FILE).write_text(self.owner)
        for volume in volumes:
            kind = volumeplan.kind_of(volume)
            if volume.get("persistentVolumeClaim") is not None:
                try:
                    self._setup_claim(pod, volume, lookup)
                except (claims.ClaimError, OSError) as e:
                    failed[str(volume["name"])] = str(e)
                continue
            if kind is None:
                continue  # not provided here
            try:
                if kind == "hostPath":
                    check_host_path(volume["hostPath"] or {})
                else:
                    self._setup_one(pod, uid, volume, kind, lookup, tokens)
            except (VolumeError, atomicwriter.PayloadError, OSError) as e:
                failed[str(volume["name"])] = str(e)
        return failed

    def _setup_claim(
        self, pod: Mapping[str, Any], volume: Mapping[str, Any], lookup: Lookup
    ) -> None:
        """Find the directory of the claim's volume; make it when its source allows (the
        local-path provisioner in the control plane cannot reach this node's disk)."""
        namespace = str(pod["metadata"].get("namespace") or "")
        claimed = claims.resolve(namespace, volume, lookup)
        path = Path(claimed.path)
        if not path.is_dir():
            if not claimed.create:
                raise claims.ClaimError(f'path "{path}" does not exist')
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, EMPTY_DIR_MODE)  # as local-path-provisioner makes it: 0777
            log.info("volume %s: made %s", volume["name"], path)
        with self._claimed_lock:
            self._claimed[(str(pod["metadata"]["uid"]), str(volume["name"]))] = claimed

    def _setup_one(
        self,
        pod: Mapping[str, Any],
        uid: str,
        volume: Mapping[str, Any],
        kind: str,
        lookup: Lookup,
        tokens: volumeplan.TokenFetcher | None,
    ) -> None:
        allocatable = self.allocatable()
        if tokens is None:
            files = volumeplan.payload(pod, volume, lookup, allocatable)
        else:
            files = volumeplan.payload(pod, volume, lookup, allocatable, tokens)
        directory = self.volume_dir(uid, volume)
        key = (uid, str(volume["name"]))
        with self._claimed_lock:
            held = self._written.get(key)
        unchanged = files is not None and held is not None and held[1] == files
        if unchanged and held is not None and atomicwriter.current(directory) == held[0]:
            return  # as written last time, and still there
        mode = EMPTY_DIR_MODE if kind == "emptyDir" else API_DATA_MODE
        self._make_dir(directory, mode, volumeplan.in_memory(volume), volumeplan.size_limit(volume))
        if files is None:
            return
        if atomicwriter.write(directory, files):
            log.info("pod %s: volume %s written", uid, volume["name"])
        with self._claimed_lock:
            self._written[key] = (atomicwriter.current(directory), files)

    def _make_dir(self, directory: Path, mode: int, memory: bool, size: int | None) -> None:
        if not directory.is_dir():
            os.makedirs(directory, exist_ok=True)
            os.chmod(directory, mode)
        if memory and self.tmpfs and self.mounter is not None and not os.path.ismount(directory):
            self.mounter.mount_tmpfs(directory, mode, size)

    # -- mounts ----------------------------------------------------------------------------

    def mounts(
        self, pod: Mapping[str, Any], container: Mapping[str, Any], env: Mapping[str, str]
    ) -> list[Mount]:
        """The binds of ``container``'s volumeMounts; raises ``SubPathError`` or ``EnvError``."""
        uid = str(pod["metadata"]["uid"])
        volumes = {str(v.get("name")): v for v in (pod.get("spec") or {}).get("volumes") or []}
        binds: list[Mount] = []
        for mount in container.get("volumeMounts") or []:
            volume = volumes.get(str(mount.get("name")))
            kind = volumeplan.kind_of(volume) if volume is not None else None
            with self._claimed_lock:
                claimed = self._claimed.get((uid, str(mount.get("name"))))
            if volume is None or (kind is None and claimed is None):
                continue
            if claimed is not None:
                source = Path(claimed.path)
            elif kind == "hostPath":
                source = Path(str((volume["hostPath"] or {}).get("path") or ""))
            else:
                source = self.volume_dir(uid, volume)
            host = str(source)
            sub = str(mount.get("subPath") or "")
            if mount.get("subPathExpr"):
                sub = envvars.expand_sub_path(str(mount["subPathExpr"]), env)
            if sub:
                host = subpath.prepare(source, sub, str(mount["name"]), str(container["name"]))
            read_only = bool(mount.get("readOnly")) or kind in volumeplan.API_DATA
            read_only = read_only or (claimed is not None and claimed.read_only)
            binds.append(Mount(host, str(mount.get("mountPath")), read_only))
        return binds

    def termination_log(self, uid: str, name: str, attempt: int) -> Path:
        """A new empty file, writable by any user, for one container to leave its termination
        message in (the kubelet's ``containers/NAME/ID``: bound at terminationMessagePath)."""
        pod_dir = self.pod_dir(uid)
        if not pod_dir.is_dir():
            pod_dir.mkdir(parents=True, mode=0o750)
            (pod_dir / OWNER_FILE).write_text(self.owner)
        directory = pod_dir / "containers" / name
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / str(attempt)
        path.write_bytes(b"")
        path.chmod(0o666)  # the container's user, whoever it is, writes it
        return path

    # -- tear-down -------------------------------------------------------------------------

    def teardown(self, uid: str) -> None:
        """Unmount whatever is mounted in the pod's directory, deepest first, then remove it (its
        containers are gone)."""
        with self._claimed_lock:  # the volume's own directory stays: its data outlives the pod
            for key in [k for k in self._claimed if k[0] == uid]:
                del self._claimed[key]
            for key in [k for k in self._written if k[0] == uid]:
                del self._written[key]
        directory = self.pod_dir(uid)
        if not directory.exists():
            return
        failed = []
        if self._may_hold_mounts(directory):
            failed = mountinfo.unmount_under(directory, self.mounter, self.mount_table)
        if failed:
            for e in failed:
                log.warning("pod %s: %s", uid, e)
            return  # never remove through a mount: the next sync tries again
        shutil.rmtree(directory, ignore_errors=True)
        log.info("pod %s: volumes removed", uid)

    def _may_hold_mounts(self, directory: Path) -> bool:
        """Whether the mount table is worth reading (all of it, however many mounts the host has):
        this agent mounts tmpfs, or a volume directory is a mount point (left by a run that did)."""
        if self.mounter is not None:
            return True
        volumes = directory / "volumes"
        return volumes.is_dir() and any(os.path.ismount(v) for v in volumes.glob("*/*"))

    def reset(self, cluster: str, node: str | None = None) -> list[OSError]:
        """``agent cleanup``: the volumes of every pod of ``cluster`` (on ``node``) go, then
        whatever is still mounted under the root dir, deepest first, as ``kubeadm reset`` unmounts
        everything under the kubelet's; another owner's pods (a shared root dir) keep theirs.
        Returns what could not be unmounted."""
        uids = self.pod_uids()
        for uid in uids:
            if self.owned_by(uid, cluster, node):
                self.teardown(uid)
        others = tuple(
            self.pod_dir(uid)
            for uid in uids
            if self._owner_of(uid) is not None and not self.owned_by(uid, cluster, node)
        )
        return mountinfo.unmount_under(self.root.parent, self.mounter, self.mount_table, others)
