"""Pod volumes on a temporary directory: the AtomicWriter layout, payloads and their messages,
subPath checks, set-up, binds and tear-down."""

from __future__ import annotations

import base64
import os
import shutil
import stat
from pathlib import Path

import pytest

from agent import atomicwriter, subpath, volumeplan
from agent.atomicwriter import FileProjection, PayloadError
from agent.volumeplan import VolumeError
from agent.volumes import VolumeManager, check_host_path, engine_shares_mounts


def files(payload: dict[str, str], mode: int = 0o644) -> dict[str, FileProjection]:
    return {k: FileProjection(v.encode(), mode) for k, v in payload.items()}


def test_atomic_writer_layout(tmp_path: Path) -> None:
    assert atomicwriter.write(tmp_path, files({"a": "1", "dir/b": "2"}))
    data = os.readlink(tmp_path / "..data")
    assert data.startswith("..") and (tmp_path / data).is_dir()
    assert os.readlink(tmp_path / "a") == "..data/a"
    assert os.readlink(tmp_path / "dir") == "..data/dir"
    assert (tmp_path / "dir" / "b").read_text() == "2"
    assert stat.S_IMODE((tmp_path / data / "a").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / data).stat().st_mode) == 0o755


def test_atomic_writer_update_swaps_and_prunes(tmp_path: Path) -> None:
    atomicwriter.write(tmp_path, files({"a": "1", "b": "2"}))
    first = os.readlink(tmp_path / "..data")
    assert not atomicwriter.write(tmp_path, files({"a": "1", "b": "2"}))  # unchanged
    assert os.readlink(tmp_path / "..data") == first
    assert atomicwriter.write(tmp_path, files({"a": "new", "c": "3"}, 0o400))
    second = os.readlink(tmp_path / "..data")
    assert second != first and not (tmp_path / first).exists()
    assert (tmp_path / "a").read_text() == "new" and (tmp_path / "c").read_text() == "3"
    assert not (tmp_path / "b").is_symlink()
    assert stat.S_IMODE((tmp_path / "c").stat().st_mode) == 0o400
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["..data", second, "a", "c"])


def test_atomic_writer_repairs_a_dangling_data_link_and_missing_names(tmp_path: Path) -> None:
    atomicwriter.write(tmp_path, files({"a": "1", "dir/b": "2"}))
    shutil.rmtree(tmp_path / os.readlink(tmp_path / "..data"))  # ..data now points nowhere
    (tmp_path / "a").unlink()
    assert atomicwriter.write(tmp_path, files({"a": "1", "dir/b": "2"}))
    assert (tmp_path / "a").read_text() == "1" and (tmp_path / "dir" / "b").read_text() == "2"
    assert not (tmp_path / atomicwriter.NEW_DATA_DIR).exists()
    (tmp_path / "a").unlink()  # a name gone while the files are unchanged: made again
    assert not atomicwriter.write(tmp_path, files({"a": "1", "dir/b": "2"}))
    assert (tmp_path / "a").read_text() == "1"


def test_atomic_writer_mode_change_is_a_change(tmp_path: Path) -> None:
    atomicwriter.write(tmp_path, files({"a": "1"}))
    assert atomicwriter.write(tmp_path, files({"a": "1"}, 0o600))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", 'invalid path: must not be empty: ""'),
        ("/etc/passwd", "invalid path: must be relative path: /etc/passwd"),
        ("a/../b", "invalid path: must not contain '..': a/../b"),
        ("..secret/x", "invalid path: must not start with '..': ..secret/x"),
        ("x" * 256, "invalid path: filenames must be less than or equal to 255 characters"),
    ],
)
def test_payload_paths_are_checked(tmp_path: Path, path: str, message: str) -> None:
    with pytest.raises(PayloadError) as e:
        atomicwriter.write(tmp_path, files({path: "x"}))
    assert str(e.value) == message
    assert list(tmp_path.iterdir()) == []


POD = {
    "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "32Mi"}}}]},
}
OBJECTS = {
    ("configmap", "cfg"): {"data": {"app.conf": "x=1", "other": "y"},
                           "binaryData": {"blob": base64.b64encode(b"\x00\x01").decode()}},
    ("secret", "pw"): {"data": {"password": base64.b64encode(b"s3cret").decode()}},
}  # fmt: skip


def lookup(kind: str, name: str):
    return OBJECTS.get((kind, name))


def payload(volume):
    return volumeplan.payload(POD, {"name": "v", **volume}, lookup, {"memory": "1Gi"})


def test_config_map_and_secret_payloads() -> None:
    got = payload({"configMap": {"name": "cfg"}})
    assert got == {"app.conf": FileProjection(b"x=1", 0o644), "other": FileProjection(b"y", 0o644),
                   "blob": FileProjection(b"\x00\x01", 0o644)}  # fmt: skip
    got = payload({"secret": {"secretName": "pw", "defaultMode": 0o400}})
    assert got == {"password": FileProjection(b"s3cret", 0o400)}
    items = [{"key": "app.conf", "path": "conf/app.conf", "mode": 0o600}]
    got = payload({"configMap": {"name": "cfg", "items": items}})
    assert got == {"conf/app.conf": FileProjection(b"x=1", 0o600)}


def test_missing_objects_and_keys() -> None:
    with pytest.raises(VolumeError, match=r'^configmap "nope" not found$'):
        payload({"configMap": {"name": "nope"}})
    assert payload({"configMap": {"name": "nope", "optional": True}}) == {}
    with pytest.raises(VolumeError, match=r"^configmap references non-existent config key: k$"):
        payload({"configMap": {"name": "cfg", "items": [{"key": "k", "path": "k"}]}})
    with pytest.raises(VolumeError, match=r"^references non-existent secret key: k$"):
        payload({"secret": {"secretName": "pw", "items": [{"key": "k", "path": "k"}]}})
    items = [{"key": "k", "path": "k"}]
    assert payload({"secret": {"secretName": "pw", "items": items, "optional": True}}) == {}
    assert volumeplan.failed_mount_message("cfg", 'configmap "x" not found') == (
        'MountVolume.SetUp failed for volume "cfg" : configmap "x" not found'
    )


def test_downward_and_projected() -> None:
    items = [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "./name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o400},
        {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory",
                                             "divisor": "1Mi"}},
    ]  # fmt: skip
    got = payload({"downwardAPI": {"items": items}})
    assert got == {
        "labels": FileProjection(b'app="web"', 0o644),
        "name": FileProjection(b"web", 0o400),
        "mem": FileProjection(b"32", 0o644),
    }
    sources = [
        {"configMap": {"name": "cfg", "items": [{"key": "other", "path": "o"}]}},
        {"secret": {"name": "pw"}},
        {"downwardAPI": {"items": [
            {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
    ]  # fmt: skip
    got = payload({"projected": {"sources": sources, "defaultMode": 0o440}})
    assert got == {"o": FileProjection(b"y", 0o440), "password": FileProjection(b"s3cret", 0o440),
                   "ns": FileProjection(b"shop", 0o440)}  # fmt: skip
    bad = [{"configMap": {"name": "a"}}, {"secret": {"name": "b"}}]
    with pytest.raises(VolumeError, match=r'^\[configmap "a" not found, secret "b" not found\]$'):
        payload({"projected": {"sources": bad}})


def test_sub_path_checks(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    volume.mkdir()
    (tmp_path / "outside").mkdir()
    os.symlink("../outside", volume / "escape")
    os.symlink("/etc", volume / "abs")
    with pytest.raises(subpath.SubPathError, match=r"must not be an absolute path"):
        subpath.prepare(volume, "/etc", "m", "c")
    with pytest.raises(subpath.SubPathError, match=r"must not contain '..'"):
        subpath.prepare(volume, "a/../../x", "m", "c")
    with pytest.raises(subpath.SubPathError, match=r"failed to prepare subPath for"):
        subpath.prepare(volume, "escape", "m", "c")
    msg = 'failed to create subPath directory for volumeMount "m" of container "c"'
    with pytest.raises(subpath.SubPathError, match=msg):
        subpath.prepare(volume, "abs/new", "m", "c")
    assert not Path("/etc/new").exists()
    made = subpath.prepare(volume, "logs/web", "m", "c")
    assert made == str(volume / "logs" / "web") and Path(made).is_dir()


def test_manager_sets_up_binds_and_tears_down(tmp_path: Path) -> None:
    manager = VolumeManager(tmp_path)
    pod = {
        **POD,
        "spec": {
            "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "cfg", "configMap": {"name": "cfg"}},
                {"name": "missing", "secret": {"secretName": "nope"}},
                {"name": "host", "hostPath": {"path": str(tmp_path / "srv")}},
            ],
        },
    }
    failed = manager.setup(pod, lookup)
    assert failed == {"missing": 'secret "nope" not found'}
    scratch = tmp_path / "pods/u-1/volumes/kubernetes.io~empty-dir/scratch"
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o777
    cfg = tmp_path / "pods/u-1/volumes/kubernetes.io~configmap/cfg"
    assert (cfg / "app.conf").read_text() == "x=1"
    container = {"name": "c", "volumeMounts": [
        {"name": "scratch", "mountPath": "/scratch"},
        {"name": "cfg", "mountPath": "/etc/app"},
        {"name": "cfg", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
        {"name": "host", "mountPath": "/srv", "readOnly": True},
    ]}  # fmt: skip
    binds = manager.mounts(pod, container, {})
    assert [(b.source, b.target, b.read_only) for b in binds] == [
        (str(scratch), "/scratch", False),
        (str(cfg), "/etc/app", True),  # API data is read-only whatever the mount says
        (os.path.realpath(cfg / "app.conf"), "/etc/app.conf", True),
        (str(tmp_path / "srv"), "/srv", True),
    ]
    assert manager.pod_uids() == ["u-1"]
    manager.teardown("u-1")
    assert manager.pod_uids() == [] and not (tmp_path / "pods/u-1").exists()


def test_manager_rewrites_a_volume_only_when_its_files_change_or_went(tmp_path: Path) -> None:
    manager = VolumeManager(tmp_path)
    data = {"app.conf": "x=1"}
    objects = {("configmap", "cfg"): {"data": data}}
    pod = {**POD, "spec": {"volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}]}}
    cfg = tmp_path / "pods/u-1/volumes/kubernetes.io~configmap/cfg"
    assert manager.setup(pod, lambda kind, name: objects.get((kind, name))) == {}
    first = os.readlink(cfg / "..data")
    assert manager.setup(pod, lambda kind, name: objects.get((kind, name))) == {}
    assert os.readlink(cfg / "..data") == first  # unchanged: left alone
    data["app.conf"] = "x=2"
    assert manager.setup(pod, lambda kind, name: objects.get((kind, name))) == {}
    assert os.readlink(cfg / "..data") != first and (cfg / "app.conf").read_text() == "x=2"
    manager.teardown("u-1")  # the directory goes: the next set-up writes it all again
    assert manager.setup(pod, lambda kind, name: objects.get((kind, name))) == {}
    assert (cfg / "app.conf").read_text() == "x=2"
    (cfg / "..data").unlink()  # removed behind the agent's back: written again
    assert manager.setup(pod, lambda kind, name: objects.get((kind, name))) == {}
    assert (cfg / "app.conf").read_text() == "x=2"


def test_agents_sharing_a_root_dir_keep_to_their_own_pods(tmp_path: Path) -> None:
    one = VolumeManager(tmp_path, owner="c1 node-1")
    two = VolumeManager(tmp_path, owner="c1 node-2")
    pod = {"metadata": {"uid": "u-9"}, "spec": {"volumes": [{"name": "s", "emptyDir": {}}]}}
    assert one.setup(pod, lookup) == {}
    assert one.pod_uids() == ["u-9"] and two.pod_uids() == []
    assert one.owned_by("u-9", "c1") and not one.owned_by("u-9", "c2")


def test_host_path_types(tmp_path: Path) -> None:
    check_host_path({"path": str(tmp_path / "made"), "type": "DirectoryOrCreate"})
    assert (tmp_path / "made").is_dir()
    check_host_path({"path": str(tmp_path / "f"), "type": "FileOrCreate"})
    assert (tmp_path / "f").is_file()
    with pytest.raises(VolumeError, match=r"^hostPath type check failed: .*/f is not a directory$"):
        check_host_path({"path": str(tmp_path / "f"), "type": "Directory"})
    with pytest.raises(VolumeError, match=r"is not a socket file$"):
        check_host_path({"path": str(tmp_path / "f"), "type": "Socket"})
    with pytest.raises(VolumeError, match=r"is not a file$"):
        check_host_path({"path": str(tmp_path / "missing"), "type": "File"})


def test_tmpfs_only_where_the_engine_shares_our_mounts(tmp_path: Path) -> None:
    (tmp_path / "self" / "ns").mkdir(parents=True)
    os.symlink("mnt:[1]", tmp_path / "self" / "ns" / "mnt")
    assert not engine_shares_mounts(tmp_path)  # no engine to be seen: the host's, elsewhere
    (tmp_path / "42" / "ns").mkdir(parents=True)
    (tmp_path / "42" / "comm").write_text("dockerd\n")
    os.symlink("mnt:[2]", tmp_path / "42" / "ns" / "mnt")
    assert not engine_shares_mounts(tmp_path)
    os.remove(tmp_path / "42" / "ns" / "mnt")
    os.symlink("mnt:[1]", tmp_path / "42" / "ns" / "mnt")
    assert engine_shares_mounts(tmp_path)


def test_manager_binds_a_claims_volume_and_keeps_its_data(tmp_path: Path) -> None:
    manager = VolumeManager(tmp_path / "root")
    data = tmp_path / "storage" / "pvc-1_default_data"
    claim = {"metadata": {"uid": "c-1"}, "spec": {"volumeName": "pvc-1"},
             "status": {"phase": "Bound"}}  # fmt: skip
    volume = {"spec": {"claimRef": {"uid": "c-1"},
                       "hostPath": {"path": str(data), "type": "DirectoryOrCreate"}}}  # fmt: skip
    objects = {("persistentvolumeclaim", "data"): claim, ("persistentvolume", "pvc-1"): volume}
    pod = {**POD, "spec": {"volumes": [
        {"name": "d", "persistentVolumeClaim": {"claimName": "data", "readOnly": True}},
        {"name": "w", "persistentVolumeClaim": {"claimName": "other"}},
    ]}}  # fmt: skip
    failed = manager.setup(pod, lambda kind, name: objects.get((kind, name)))
    assert failed == {"w": "error processing PVC shop/other: failed to fetch PVC from API "
                           'server: persistentvolumeclaims "other" not found'}  # fmt: skip
    assert data.is_dir() and stat.S_IMODE(data.stat().st_mode) == 0o777
    container = {"name": "c", "volumeMounts": [{"name": "d", "mountPath": "/data"}]}
    binds = manager.mounts(pod, container, {})
    assert [(b.source, b.target, b.read_only) for b in binds] == [(str(data), "/data", True)]
    (data / "kept").write_text("x")
    manager.teardown("u-1")
    assert (data / "kept").read_text() == "x"  # the claim's data outlives the pod
