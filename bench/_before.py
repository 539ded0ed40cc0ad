"""The control plane as it was at an earlier commit, for ``bench/scale.py``'s "before" column:
that commit's tree (``git archive``) installed with ``pip install`` into a venv of its own, in a
directory kept between runs when one is given. Effectful (git, venv, pip)."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def resolve(commit: str) -> str:
    out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", f"{commit}^{{commit}}"],
                         check=True, capture_output=True, text=True)  # fmt: skip
    return out.stdout.strip()


def install(commit: str, into: Path) -> Path:
    """Install ``commit`` under ``into`` (reused when it is there already); return the venv's
    ``bin`` directory, whose ``tinykube`` runs that commit's code."""
    full = resolve(commit)
    done = into / f"installed-{full}"
    bin_dir = into / "venv" / "bin"
    if done.exists():
        return bin_dir
    src = into / "src"
    src.mkdir(parents=True, exist_ok=True)
    archive = into / "src.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), full],
                   check=True)  # fmt: skip
    with tarfile.open(archive) as tar:
        tar.extractall(src, filter="data")
    archive.unlink()
    subprocess.run([sys.executable, "-m", "venv", str(into / "venv")], check=True)
    subprocess.run([str(bin_dir / "pip"), "install", "--quiet", str(src)], check=True)
    done.touch()
    return bin_dir
