"""Where the agent's token comes from: ``--token-file`` (or ``TK_TOKEN_FILE``) or ``TK_TOKEN``,
never the command line, which every user of the machine reads in ``ps`` and /proc/PID/cmdline.
``--token`` still works, with a warning. Effectful only in reading the file it is given.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ARGV_WARNING = (
    "warning: --token puts the token on the command line, where every user of this machine can "
    "read it (ps, /proc/PID/cmdline); use --token-file PATH or the TK_TOKEN environment variable"
)


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--token-file",
        default=os.environ.get("TK_TOKEN_FILE"),
        metavar="PATH",
        help="read the token from this file (mode 0600; default: $TK_TOKEN_FILE)",
    )
    p.add_argument(
        "--token", help="the token itself (visible in ps: prefer --token-file or $TK_TOKEN)"
    )


def token_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> str | None:
    """The token the flags and the environment give, in this order: ``--token-file`` (or
    ``TK_TOKEN_FILE``), ``--token`` (with a warning on stderr), ``TK_TOKEN``."""
    env = os.environ if environ is None else environ
    if args.token_file:
        return Path(args.token_file).expanduser().read_text().strip()
    if args.token:
        print(ARGV_WARNING, file=sys.stderr, flush=True)
        return str(args.token)
    return env.get("TK_TOKEN") or None


def require(p: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """``token_from``, or a usage error when there is none or its file cannot be read."""
    try:
        token = token_from(args)
    except OSError as e:
        p.error(f"--token-file {args.token_file}: {e.strerror or e}")
    if not args.server or not token:
        p.error("--server and a token (--token-file PATH or TK_TOKEN) are required")
    return token
