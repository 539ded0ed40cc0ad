"""Command groups of tkctl (``rollout``, ``set``, ``create``): kubectl's subcommand grammar with
aliases (``create ns``), ``-h``, the global flags on the group too, kubectl's message for an unknown
subcommand, and help (exit 0) when no subcommand is given. Pure click wiring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from control.cli.flags import CONTEXT_SETTINGS


class KubectlGroup(click.Group):
    """A click group that fails like kubectl: ``unknown command "x" for "tkctl rollout"``, and
    usage errors carry the group's context (for the ``See '... -h'`` hint)."""

    def command_path(self, ctx: click.Context) -> str:
        return ctx.command_path

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise click.UsageError(f'unknown command "{name}" for "{self.command_path(ctx)}"', ctx)
        return super().resolve_command(ctx, args)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:
            if e.ctx is None:
                e.ctx = ctx
            raise


class TkSubGroup(KubectlGroup):
    """A kubectl-like group with aliases (``create ns``)."""

    aliases: dict[str, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = {}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))

    def alias(self, alias: str, name: str) -> None:
        self.aliases[alias] = name


def group(
    name: str | None = None, *, invoke_without_command: bool = False
) -> Callable[[Callable[..., Any]], TkSubGroup]:
    """``@click.group`` for tkctl; without ``invoke_without_command`` a bare group prints its help
    and exits 0, as kubectl does."""

    def decorate(f: Callable[..., Any]) -> TkSubGroup:
        g = click.group(
            name,
            cls=TkSubGroup,
            context_settings=CONTEXT_SETTINGS,
            invoke_without_command=invoke_without_command,
            no_args_is_help=not invoke_without_command,
        )(f)
        assert isinstance(g, TkSubGroup)
        return g

    return decorate
