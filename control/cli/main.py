"""``tkctl``: the kubectl-compatible command line of tinykube (entry point ``main``).

The group loads each command's module only when that command runs, so ``tkctl`` starts fast, and
turns every failure into kubectl's wording and exit codes: usage errors print ``error: ...`` plus a
``See 'tkctl <cmd> -h'`` line and exit 1 (click's own code would be 2).
"""

from __future__ import annotations

import importlib
import io
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from common import errors
from common.kubeconfig import KubeconfigError
from common.manifest import ManifestError
from control.cli.flags import CONTEXT_SETTINGS
from control.cli.groups import KubectlGroup
from control.cli.output import CliError, Failed, api_error_message, client_error, echo_error
from control.cli.session import Session, global_options

# name -> "module:attribute"; the module is imported only when the command is used.
COMMANDS: dict[str, str] = {
    "api-resources": "control.cli.info:api_resources",
    "apply": "control.cli.apply:apply",
    "cluster-info": "control.cli.info:cluster_info",
    "cordon": "control.cli.nodes:cordon",
    "create": "control.cli.create:create",
    "delete": "control.cli.delete:delete",
    "describe": "control.cli.describe:describe",
    "drain": "control.cli.nodes:drain",
    "exec": "control.cli.exec:exec_",
    "expose": "control.cli.services:expose",
    "get": "control.cli.get:get",
    "label": "control.cli.label:label",
    "logs": "control.cli.logs:logs",
    "port-forward": "control.cli.portforward:port_forward",
    "replace": "control.cli.replace:replace",
    "rollout": "control.cli.rollout:rollout",
    "run": "control.cli.run:run",
    "scale": "control.cli.scale:scale",
    "set": "control.cli.setcmd:set_",
    "uncordon": "control.cli.nodes:uncordon",
    "version": "control.cli.info:version",
    "wait": "control.cli.wait:wait",
}
EXIT_INTERRUPTED = 130


def _usage_message(e: click.UsageError) -> str:
    if isinstance(e, click.NoSuchOption):
        return f"unknown flag: {e.option_name}"
    if isinstance(e, click.BadOptionUsage) and "requires an argument" in e.message:
        return f"flag needs an argument: {e.option_name}"
    if isinstance(e, click.MissingParameter) and e.param is not None and e.param_type == "option":
        return f'required flag(s) "{e.param.name}" not set'
    return e.format_message()


def report(exc: BaseException) -> int:
    """Print ``exc`` as kubectl would and return the exit code."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # plain `tkctl`: help, as kubectl prints it
        assert isinstance(exc, click.UsageError)
        click.echo(exc.format_message())
        return 0
    if isinstance(exc, click.UsageError):
        path = exc.ctx.command_path if exc.ctx is not None else "tkctl"
        echo_error(f"error: {_usage_message(exc)}\nSee '{path} -h' for help and examples.")
        return 1
    if isinstance(exc, click.ClickException):
        client_error(exc.format_message())
        return 1
    if isinstance(exc, Failed):
        return exc.code
    if isinstance(exc, CliError):
        client_error(exc.message)
        return exc.code
    if isinstance(exc, ManifestError):
        client_error(exc.message)
        if exc.hint:
            echo_error(exc.hint)
        return 1
    if isinstance(exc, KubeconfigError):
        client_error(str(exc))
        return 1
    if isinstance(exc, errors.ApiError):
        echo_error(api_error_message(exc))
        return 1
    raise exc


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the final flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


class TkGroup(KubectlGroup):
    """A click group with lazily imported commands and kubectl's error handling."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def command_path(self, ctx: click.Context) -> str:
        return "tkctl"

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> int:
        try:
            rv = super().main(args, "tkctl", complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except (KeyboardInterrupt, click.Abort):
            code = EXIT_INTERRUPTED
        except BrokenPipeError:  # `tkctl get pods | head -1`
            _silence_stdout()
            code = 1
        except Exception as e:
            code = report(e)
        finally:
            obj = extra.get("obj")
            if isinstance(obj, Session):
                obj.close()
        if standalone_mode:
            sys.exit(code)
        return code


@click.group(cls=TkGroup, context_settings=CONTEXT_SETTINGS)
@global_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """tkctl controls a tinykube cluster, as kubectl controls Kubernetes.

    Find more information at the tinykube README.
    """
    ctx.ensure_object(Session)
    ctx.call_on_close(ctx.obj.close)


def main(argv: Sequence[str] | None = None) -> None:
    """The ``tkctl`` console script."""
    cli.main(args=list(argv) if argv is not None else None)


if __name__ == "__main__":
    main()
