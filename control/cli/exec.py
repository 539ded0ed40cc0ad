"""``tkctl exec [-i] [-t] POD [-c C] -- COMMAND...``: run a command in a container over the
``pods/NAME/exec`` WebSocket (``common.channels``).

With ``-i`` stdin goes to the command (its end closes the command's stdin); with ``-t`` as well and
a terminal on stdin, the terminal is put in raw mode and its size follows SIGWINCH. The command's
exit code becomes tkctl's (``command terminated with exit code 3``). The old form without ``--``
still works, with kubectl's deprecation warning.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

import click

from common import channels, errors
from control.cli.flags import CONTEXT_SETTINGS, TkCommand
from control.cli.logs import DEFAULT_CONTAINER
from control.cli.output import CliError, Failed, api_error_message, echo_error
from control.cli.podpick import open_stream, resolve_pod
from control.cli.session import Session, global_options

DEPRECATED = (
    "kubectl exec [POD] [COMMAND] is DEPRECATED and will be removed in a future version. "
    "Use kubectl exec [POD] -- [COMMAND] instead."
)
NO_TTY = "Unable to use a TTY - input is not a terminal or the right kind of file"
READ_SIZE = 32 * 1024
DASH_KEY = "tkctl.after_dash"


class ExecCommand(TkCommand):
    """Keeps what follows ``--`` apart: that is the command, whatever it looks like."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            i = args.index("--")
            ctx.meta[DASH_KEY] = args[i + 1 :]
            args = args[:i]
        return super().parse_args(ctx, args)


def pick_container(pod: dict[str, Any], requested: str | None, quiet: bool) -> str:
    """``-c``, else the default-container annotation, else the first (saying so, as kubectl)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    names = [str(c.get("name")) for c in spec.get("containers") or []]
    if requested:
        if requested not in names:
            raise CliError(f"container {requested} not found in pod {meta.get('name')}")
        return requested
    default = (meta.get("annotations") or {}).get(DEFAULT_CONTAINER)
    if default in names:
        return str(default)
    if not names:
        raise CliError(f"pod {meta.get('name')} does not have a container")
    if len(names) > 1 and not quiet:
        echo_error(f'Defaulted container "{names[0]}" out of: {", ".join(names)}')
    return names[0]


@click.command("exec", cls=ExecCommand, context_settings=CONTEXT_SETTINGS)
@click.argument("args", nargs=-1)
@click.option("-c", "--container", metavar="NAME", help="The container to run the command in.")
@click.option("-i", "--stdin", is_flag=True, help="Pass stdin to the container.")
@click.option("-t", "--tty", is_flag=True, help="Stdin is a TTY.")
@click.option("-q", "--quiet", is_flag=True, help="Only print what the command prints.")
@global_options
@click.pass_context
def exec_(
    ctx: click.Context,
    args: tuple[str, ...],
    container: str | None,
    stdin: bool,
    tty: bool,
    quiet: bool,
) -> None:
    """Run a command in a container: tkctl exec (POD | TYPE/NAME) [-c CONTAINER] -- COMMAND"""
    session: Session = ctx.obj
    if not args:
        raise CliError("pod, type/name or --filename must be specified")
    after_dash: list[str] | None = ctx.meta.get(DASH_KEY)
    if after_dash is not None:
        command = list(after_dash)
    else:
        command = list(args[1:])
        if command and not quiet:
            echo_error(DEPRECATED)
    if not command:
        raise CliError("you must specify at least one command for the container")
    pod = resolve_pod(session.client(), args[0], session.default_namespace)
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise CliError(f"cannot exec into a container in a completed pod; current phase is {phase}")
    name = pick_container(pod, container, quiet)
    raw = tty and stdin and _is_terminal(sys.stdin)
    if tty and stdin and not raw and not quiet:
        echo_error(NO_TTY)
    tty = raw
    params: dict[str, Any] = {"command": command, "container": name, "stdout": "true"}
    if stdin:
        params["stdin"] = "true"
    if tty:
        params["tty"] = "true"
    else:
        params["stderr"] = "true"
    stream = open_stream(session, pod, "exec", params)
    try:
        with _raw_terminal(tty):
            status = run_session(stream, stdin, tty)
    finally:
        stream.close()
    code, message = channels.exit_of(status)
    if message:
        echo_error(api_error_message(errors.from_status({"message": message, "code": 500})))
        raise Failed(code)
    if code:
        echo_error(f"command terminated with exit code {code}")
        raise Failed(code)


def _is_terminal(f: IO[Any]) -> bool:
    try:
        return os.isatty(f.fileno())
    except (AttributeError, ValueError, OSError):
        return False


@contextlib.contextmanager
def _raw_terminal(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    import termios
    import tty as ttymod

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    ttymod.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _terminal_size() -> tuple[int, int] | None:
    for f in (sys.stdout, sys.stdin, sys.stderr):
        try:
            size = os.get_terminal_size(f.fileno())
            return size.columns, size.lines
        except (AttributeError, ValueError, OSError):
            continue
    return None


def run_session(stream: Any, stdin: bool, tty: bool) -> bytes:
    """Pump one exec session; return the payload of its error channel (the Status)."""
    previous = None
    if tty:
        size = _terminal_size()
        if size is not None:
            stream.send(channels.RESIZE, channels.resize_payload(*size))

        def on_winch(signum: int, frame: Any) -> None:
            new = _terminal_size()
            if new is not None:
                stream.send(channels.RESIZE, channels.resize_payload(*new))

        previous = signal.signal(signal.SIGWINCH, on_winch)
    if stdin:
        pump = threading.Thread(
            target=_send_stdin, args=(stream, tty), name="tkctl-stdin", daemon=True
        )
        pump.start()
    try:
        return _receive(stream)
    finally:
        if previous is not None:
            signal.signal(signal.SIGWINCH, previous)


def _receive(stream: Any) -> bytes:
    out, err = sys.stdout.buffer, sys.stderr.buffer
    status = b""
    while (frame := stream.recv()) is not None:
        channel, payload = frame
        if channel == channels.STDOUT:
            out.write(payload)
            out.flush()
        elif channel == channels.STDERR:
            err.write(payload)
            err.flush()
        elif channel == channels.ERROR:
            status += payload
    return status


def _send_stdin(stream: Any, tty: bool) -> None:
    source: Any = sys.stdin.buffer
    fd = None
    with contextlib.suppress(AttributeError, ValueError, OSError):
        fd = source.fileno()
    while True:
        try:
            data = os.read(fd, READ_SIZE) if fd is not None else source.read1(READ_SIZE)
        except OSError:
            data = b""
        if not data:
            break
        if not stream.send(channels.STDIN, data):
            return
    if stream.protocol == channels.V5:
        stream.send(channels.CLOSE, bytes([channels.STDIN]))
