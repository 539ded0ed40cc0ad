"""``tkctl create poddisruptionbudget|pdb NAME --selector=SEL --min-available=N`` (or
``--max-unavailable=N``): the policy/v1 PodDisruptionBudget ``kubectl create pdb`` builds, with its
flag checks and messages. The builder is pure.
"""

from __future__ import annotations

import re
from typing import Any

import click

from common import errors
from common.labels import DOES_NOT_EXIST, DOUBLE_EQUALS, EQUALS, EXISTS, IN, NOT_EQUALS, NOT_IN
from common.resources import must
from common.selectors import parse_label_selector
from control.cli.flags import command
from control.cli.output import CliError
from control.cli.session import Session, global_options

PDBS = must("poddisruptionbudgets")
# kubectl's check of both flags: a number or a percentage (``10``, ``30%``).
_INT_OR_PERCENT = re.compile(r"^\d+%?$")
_EXPRESSION = {IN: "In", NOT_IN: "NotIn", NOT_EQUALS: "NotIn", EXISTS: "Exists",
               DOES_NOT_EXIST: "DoesNotExist"}  # fmt: skip


def to_label_selector(text: str) -> dict[str, Any]:
    """metav1.ParseToLabelSelector: equalities as ``matchLabels``, the rest as expressions."""
    try:
        parsed = parse_label_selector(text)
    except errors.BadRequestError as e:
        raise CliError(e.message) from None
    labels: dict[str, str] = {}
    expressions: list[dict[str, Any]] = []
    for req in parsed.requirements:
        if req.operator in (EQUALS, DOUBLE_EQUALS):
            labels[req.key] = req.values[0]
            continue
        if req.operator not in _EXPRESSION:
            raise CliError(f"{req.operator} is not a valid label selector operator")
        expr: dict[str, Any] = {"key": req.key, "operator": _EXPRESSION[req.operator]}
        if req.operator in (IN, NOT_IN, NOT_EQUALS):
            expr["values"] = list(req.values)
        expressions.append(expr)
    selector: dict[str, Any] = {}
    if labels:
        selector["matchLabels"] = labels
    if expressions:
        selector["matchExpressions"] = expressions
    return selector


def _int_or_string(value: str) -> int | str:
    """intstr.Parse: a number becomes an int, anything else stays a string."""
    return int(value) if value.isdigit() else value


def build_pdb(name: str, selector: str, min_available: str, max_unavailable: str) -> dict[str, Any]:
    """The PodDisruptionBudget ``kubectl create pdb`` sends, after its checks."""
    if not min_available and not max_unavailable:
        raise CliError("one of min-available or max-unavailable must be specified")
    if min_available and max_unavailable:
        raise CliError("min-available and max-unavailable cannot be both specified")
    for flag, value in (("min-available", min_available), ("max-unavailable", max_unavailable)):
        if value and not _INT_OR_PERCENT.match(value):
            raise CliError(f"invalid format specified for {flag}")
    spec: dict[str, Any] = {"selector": to_label_selector(selector)}
    if min_available:
        spec["minAvailable"] = _int_or_string(min_available)
    if max_unavailable:
        spec["maxUnavailable"] = _int_or_string(max_unavailable)
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": spec}  # fmt: skip


@command(name="poddisruptionbudget")
@click.argument("name")
@click.option("--selector", default="", help="A label selector to use for this budget.")
@click.option("--min-available", default="", help="Pods that must stay available (N or N%).")
@click.option("--max-unavailable", default="", help="Pods that may be unavailable (N or N%).")
@click.option("--dry-run", type=click.Choice(["none", "client"]), default="none",
              help="client: only print what would be sent.")  # fmt: skip
@click.option("-o", "--output", type=click.Choice(["yaml", "json", "name"]))
@global_options
@click.pass_obj
def poddisruptionbudget(
    session: Session,
    name: str,
    selector: str,
    min_available: str,
    max_unavailable: str,
    dry_run: str,
    output: str | None,
) -> None:
    """Create a pod disruption budget: tkctl create pdb NAME --selector=SEL --min-available=N"""
    from control.cli.create import send

    send(session, PDBS, build_pdb(name, selector, min_available, max_unavailable), dry_run, output)
