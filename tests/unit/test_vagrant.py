"""vagrant/ cannot run here (no hypervisor): check what can be checked without one. The
Vagrantfile is valid Ruby and, evaluated with a recording stand-in for Vagrant, defines the
control VM and N workers on 192.168.56.0/24 with the provisioning scripts; those scripts are
valid bash (and shellcheck-clean where shellcheck is installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VAGRANT = ROOT / "vagrant"
SCRIPTS = sorted(VAGRANT.glob("provision-*.sh"))


def test_there_are_provisioning_scripts() -> None:
    names = {p.name for p in SCRIPTS}
    assert {"provision-control.sh", "provision-node.sh", "provision-hosts.sh"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_provisioning_scripts_are_valid_bash(script: Path) -> None:
    subprocess.run(["bash", "-n", str(script)], check=True)
    if shutil.which("shellcheck"):
        out = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout


@pytest.mark.skipif(not shutil.which("ruby"), reason="ruby is not installed (apt-get install ruby)")
def test_vagrantfile_defines_control_and_workers() -> None:
    subprocess.run(["ruby", "-c", str(VAGRANT / "Vagrantfile")], check=True, capture_output=True)
    out = subprocess.run(
        ["ruby", str(Path(__file__).with_name("vagrant_stub.rb")), "Vagrantfile"],
        cwd=VAGRANT, env={"TINYKUBE_WORKERS": "3", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    text = out.stdout
    for name, ip in (("control", "10"), ("node1", "11"), ("node3", "13")):
        assert f'["vm.define", ["{name}"]' in text
        assert f':ip=>"192.168.56.{ip}"' in text
    assert '"provision-control.sh"' in text and '"provision-node.sh"' in text
    assert text.index('"control"') < text.index('"node1"')  # the server is provisioned first
