"""Read the Localhost seccomp profiles pods name from the node's profile directory.

As the kubelet's ``--seccomp-profile-root``: ``localhostProfile`` is a path relative to that
directory, read when a container is created and handed to Docker as JSON; a profile that cannot
be read refuses the container (CreateContainerError) with the message the kubelet's Docker
integration gave. Effectful (reads files).
"""

from __future__ import annotations

from pathlib import Path

from agent import runtime as rt
from agent import securitycontext

# The kubelet keeps its profiles under <root-dir>/seccomp (/var/lib/kubelet/seccomp).
DEFAULT_ROOT = "/var/lib/tinykube/seccomp"


def load_profile(root: str, relative: str) -> str:
    """The JSON text of the profile ``relative`` names under ``root``."""
    path = securitycontext.profile_path(root, relative)
    if path is None:
        raise rt.CreateContainerError(
            f'cannot load seccomp profile "{relative}": localhostProfile must be a relative '
            f"path under {root}"
        )
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise rt.CreateContainerError(
            f'cannot load seccomp profile "{path}": open {path}: {reason.lower()}'
        ) from e
