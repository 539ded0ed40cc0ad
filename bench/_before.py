"""The control plane as it was at an earlier commit, for ``bench/scale.py``'s "before" column:
that commit's tree (``git archive``) installed with ``pip install`` into a venv of its own, in a
directory kept between runs when one is given. Effectful (git, venv, pip)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
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


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``--before-commit`` and ``--before-dir``, for a benchmark's "before" column."""
    p.add_argument("--before-commit", help="also run an earlier commit's control plane and agent")
    p.add_argument("--before-dir", type=Path, help="install the earlier commit here (kept)")


def from_arguments(args: argparse.Namespace) -> Path | None:
    """The ``bin`` directory of ``--before-commit`` installed (in ``--before-dir``, else in a
    temporary directory left for the process's life), or None when none was asked for."""
    if not args.before_commit:
        return None
    where = args.before_dir or Path(tempfile.mkdtemp(prefix="tinykube-before-"))
    print(f"-- installing {args.before_commit} in {where}", file=sys.stderr, flush=True)
    return install(args.before_commit, where)
