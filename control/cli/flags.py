"""The click command class of every tkctl command: ``-h`` for help, and kubectl's boolean flag
syntax (``--wait=false``, ``--force=true``) on top of click's ``--wait/--no-wait`` flags. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}
TRUE = ("true", "1", "t", "yes")
FALSE = ("false", "0", "f", "no")


def rewrite_bool_flags(command: click.Command, args: list[str]) -> list[str]:
    """``--flag=true`` → ``--flag``; ``--flag=false`` → ``--no-flag`` (or nothing)."""
    flags: dict[str, click.Option] = {}
    for param in command.params:
        if isinstance(param, click.Option) and param.is_flag:
            for opt in param.opts:
                flags[opt] = param
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        name, eq, value = arg.partition("=")
        option = flags.get(name) if eq else None
        if option is None:
            out.append(arg)
        elif value.lower() not in TRUE + FALSE:
            raise click.UsageError(
                f'invalid argument "{value}" for "{name}" flag: strconv.ParseBool: parsing '
                f'"{value}": invalid syntax'
            )
        elif value.lower() in TRUE:
            out.append(name)
        elif option.secondary_opts:
            out.append(option.secondary_opts[0])
    return out


class TkCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, rewrite_bool_flags(self, args))
        except click.UsageError as e:
            if e.ctx is None:  # click's parser leaves it unset; the help hint names the command
                e.ctx = ctx
            raise


def command(name: str | None = None) -> Callable[[Callable[..., Any]], click.Command]:
    """``@click.command`` for tkctl."""
    return click.command(name, cls=TkCommand, context_settings=CONTEXT_SETTINGS)
