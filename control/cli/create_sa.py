"""``tkctl create serviceaccount NAME`` and ``create token NAME [--duration] [--audience]``: a
ServiceAccount, and a token for one from its ``token`` subresource (TokenRequest), printed as
kubectl prints it (the bare token, or the TokenRequest with ``-o``).
"""

from __future__ import annotations

from typing import Any

import click

from common.duration import parse_duration
from common.resources import must
from control.cli.flags import command
from control.cli.output import CliError, render
from control.cli.session import Session, global_options

SERVICE_ACCOUNTS = must("serviceaccounts")


def build_service_account(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}


def build_token_request(duration: str, audiences: tuple[str, ...]) -> dict[str, Any]:
    """The TokenRequest kubectl sends: ``expirationSeconds`` only when ``--duration`` is set,
    which must be whole seconds (kubectl's own checks)."""
    spec: dict[str, Any] = {}
    if audiences:
        if any(not a for a in audiences):
            raise CliError("--audience must not be an empty string")
        spec["audiences"] = list(audiences)
    if duration:
        try:
            seconds = parse_duration(duration)
        except ValueError as e:
            raise CliError(f'invalid argument "{duration}" for "--duration" flag: {e}') from e
        if seconds < 0:
            raise CliError("--duration must be greater than or equal to 0")
        if seconds != int(seconds):
            raise CliError("--duration must be an even multiple of 1s")
        if seconds:
            spec["expirationSeconds"] = int(seconds)
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


@command(name="serviceaccount")
@click.argument("name")
@click.option("--dry-run", type=click.Choice(["none", "client"]), default="none",
              help="client: only print what would be sent.")  # fmt: skip
@click.option("-o", "--output", type=click.Choice(["yaml", "json", "name"]))
@global_options
@click.pass_obj
def serviceaccount(session: Session, name: str, dry_run: str, output: str | None) -> None:
    """Create a service account: tkctl create serviceaccount NAME"""
    from control.cli.create import send

    send(session, SERVICE_ACCOUNTS, build_service_account(name), dry_run, output)


@command(name="token")
@click.argument("name")
@click.option("--duration", default="", help="Requested lifetime of the token (e.g. 1h).")
@click.option("--audience", "audiences", multiple=True, help="An intended audience; repeatable.")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]))
@global_options
@click.pass_obj
def token(
    session: Session, name: str, duration: str, audiences: tuple[str, ...], output: str | None
) -> None:
    """Request a service account token: tkctl create token NAME [--duration=1h]"""
    body = build_token_request(duration, audiences)
    ns = session.default_namespace
    path = SERVICE_ACCOUNTS.path(ns, name, "token")
    answer = session.client().request_json("POST", path, body=body)
    if output:
        click.echo(render(answer, output), nl=False)
    else:
        click.echo(str((answer.get("status") or {}).get("token") or ""))
