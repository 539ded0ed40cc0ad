"""The mount table under a directory and its tear-down: a pod's volumes unmounted before its
directory goes, and ``agent cleanup``'s sweep of a root dir (another owner's pods kept). A scripted
table and mounter; one test mounts a real tmpfs where it may (root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent import mountinfo
from agent.mountinfo import Mounter
from agent.volumes import VolumeManager

TABLE = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
900 27 0:90 / /var/lib/tk/pods/u1/volumes/kubernetes.io~secret/s rw - tmpfs tmpfs rw,mode=755
901 27 0:91 / /var/lib/tk/pods/u1/volumes/kubernetes.io~empty-dir/with\\040space rw - tmpfs tmpfs rw
902 27 0:92 / /var/lib/tk rw - tmpfs tmpfs rw
903 27 0:93 / /var/lib/tk/pods/u1/volumes/kubernetes.io~secret/s rw - tmpfs tmpfs rw
904 27 0:94 / /var/lib/tk/pods/u1 rw - tmpfs tmpfs rw
905 27 0:95 / /var/lib/tkx/pods/u2 rw - tmpfs tmpfs rw
"""


def test_parse_unescapes_mount_points_in_mount_order() -> None:
    points = mountinfo.parse(TABLE)
    assert points[:2] == ["/proc", "/"]
    assert points[3] == "/var/lib/tk/pods/u1/volumes/kubernetes.io~empty-dir/with space"
    assert mountinfo.parse("") == [] and mountinfo.parse("garbage\n") == []


def test_under_is_deepest_first_last_mounted_first_and_not_the_dir_itself() -> None:
    secret = "/var/lib/tk/pods/u1/volumes/kubernetes.io~secret/s"
    assert mountinfo.under(mountinfo.parse(TABLE), "/var/lib/tk/") == [
        secret,  # 903, stacked on 900: it goes first
        "/var/lib/tk/pods/u1/volumes/kubernetes.io~empty-dir/with space",
        secret,
        "/var/lib/tk/pods/u1",
    ]  # neither /var/lib/tk itself nor /var/lib/tkx, which only shares the prefix
    points = mountinfo.parse(TABLE)
    assert mountinfo.under(points, "/var/lib/tk", keep=("/var/lib/tk/pods/u1",)) == []
    assert mountinfo.under(points, "/nowhere") == []


class FakeMounts(Mounter):
    """A mount table that ``unmount`` edits: the last mount on the point goes."""

    def __init__(self, *points: Path, failing: tuple[Path, ...] = ()) -> None:
        self.points = [str(p) for p in points]
        self.failing = {str(p) for p in failing}
        self.unmounted: list[str] = []

    def table(self) -> str:
        lines = (f"{i} 1 0:{i} / {p} rw - tmpfs tmpfs rw\n" for i, p in enumerate(self.points))
        return "".join(lines)

    def unmount(self, target: Path) -> None:
        if str(target) in self.failing:
            raise OSError(16, f"unmount {target}: Device or resource busy")
        if str(target) not in self.points:
            raise OSError(22, f"unmount {target}: Invalid argument")
        del self.points[len(self.points) - 1 - self.points[::-1].index(str(target))]
        self.unmounted.append(str(target))


def lookup(kind: str, name: str) -> None:
    return None


def pod(uid: str) -> dict[str, object]:
    volumes = [{"name": "s", "emptyDir": {"medium": "Memory"}}]
    return {"metadata": {"uid": uid}, "spec": {"volumes": volumes}}


def test_teardown_unmounts_everything_in_the_pod_directory_deepest_first(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    volume = root / "pods/u1/volumes/kubernetes.io~empty-dir/s"
    nested = volume / "inner"
    other = root / "pods/u2/volumes/kubernetes.io~empty-dir/s"
    fake = FakeMounts(volume, nested, other)
    manager = VolumeManager(root, mounter=fake, mount_table=fake.table)
    assert manager.setup(pod("u1"), lookup) == {} and manager.setup(pod("u2"), lookup) == {}
    manager.teardown("u1")
    assert fake.unmounted == [str(nested), str(volume)] and fake.points == [str(other)]
    assert not (root / "pods/u1").exists() and (root / "pods/u2").is_dir()


def test_teardown_keeps_the_directory_while_a_mount_stays(tmp_path: Path) -> None:
    volume = tmp_path.resolve() / "pods/u1/volumes/kubernetes.io~empty-dir/s"
    fake = FakeMounts(volume, failing=(volume,))
    manager = VolumeManager(tmp_path, mounter=fake, mount_table=fake.table)
    manager.setup(pod("u1"), lookup)
    (volume / "data").write_text("x")
    manager.teardown("u1")  # never rmtree through a mount: the next sync tries again
    assert (volume / "data").read_text() == "x" and manager.pod_uids() == ["u1"]
    fake.failing.clear()
    manager.teardown("u1")
    assert fake.points == [] and manager.pod_uids() == []


def test_reset_sweeps_the_root_dir_but_another_owners_pods(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    mine = VolumeManager(root, owner="c1 node-1")
    same_cluster = VolumeManager(root, owner="c1 node-2")
    theirs = VolumeManager(root, owner="c2 node-1")
    for manager, uid in ((mine, "a"), (same_cluster, "b"), (theirs, "c")):
        manager.setup(pod(uid), lookup)
    (root / "pods/unowned/volumes").mkdir(parents=True)  # no owner file: nobody else's
    vol = "volumes/kubernetes.io~empty-dir/s"
    points = {uid: root / "pods" / uid / vol for uid in ("a", "b", "c")}
    stray = root / "pods/unowned/volumes"
    fake = FakeMounts(*points.values(), stray, root / "storage/x", root / "pods/c")
    cleaner = VolumeManager(root, mounter=fake, mount_table=fake.table)

    assert cleaner.reset("c1", "node-1") == []  # one node of c1 removed
    assert fake.points == [str(points["b"]), str(points["c"]), str(root / "pods/c")]
    assert sorted(p.name for p in (root / "pods").iterdir()) == ["b", "c", "unowned"]
    assert cleaner.reset("c1") == []  # the whole cluster
    assert fake.points == [str(points["c"]), str(root / "pods/c")]
    assert sorted(p.name for p in (root / "pods").iterdir()) == ["c", "unowned"]

    fake.failing.add(str(points["c"]))
    failed = cleaner.reset("c2")
    assert [e.errno for e in failed] == [16] and (root / "pods/c").exists()  # kept, to retry
    fake.failing.clear()
    assert cleaner.reset("c2") == [] and fake.points == []


def test_teardown_reads_no_table_where_nothing_can_be_mounted(tmp_path: Path) -> None:
    def table() -> str:
        raise AssertionError("the mount table was read")

    manager = VolumeManager(tmp_path, mount_table=table)  # no tmpfs: a simulated node's
    manager.setup(pod("u1"), lookup)
    manager.teardown("u1")
    assert manager.pod_uids() == []


def test_reset_reports_what_stays_mounted(tmp_path: Path) -> None:
    stray = tmp_path.resolve() / "storage/x"
    fake = FakeMounts(stray, failing=(stray,))
    failed = VolumeManager(tmp_path, mounter=fake, mount_table=fake.table).reset("c1")
    assert [str(e) for e in failed] == [f"[Errno 16] unmount {stray}: Device or resource busy"]


def can_mount(target: Path) -> bool:
    if os.geteuid() != 0:
        return False
    try:
        Mounter().mount_tmpfs(target, 0o755, None)
    except OSError:
        return False  # no CAP_SYS_ADMIN (an unprivileged container)
    Mounter().unmount(target)
    return True


def test_a_real_tmpfs_goes_with_its_pod_and_the_sweep(tmp_path: Path) -> None:
    if not can_mount(tmp_path):
        pytest.skip("tmpfs cannot be mounted here")
    root = tmp_path.resolve()
    manager = VolumeManager(root, owner="c1 node-1", tmpfs=True)
    try:
        for uid in ("u1", "u2"):
            assert manager.setup(pod(uid), lookup) == {}
        volume = root / "pods/u1/volumes/kubernetes.io~empty-dir/s"
        assert os.path.ismount(volume)
        VolumeManager(root).teardown("u1")  # a run without tmpfs finds it: it goes all the same
        assert not (root / "pods/u1").exists()
        assert mountinfo.under(mountinfo.parse(mountinfo.table()), str(root)) == [
            str(root / "pods/u2/volumes/kubernetes.io~empty-dir/s")
        ]
        assert VolumeManager(root).reset("c1") == []
        assert mountinfo.under(mountinfo.parse(mountinfo.table()), str(root)) == []
    finally:
        mountinfo.unmount_under(root)
