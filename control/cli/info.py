"""``tkctl version``, ``tkctl api-resources`` (from the server's discovery documents, or tinykube's
own resource table when the server offers none) and ``tkctl cluster-info`` (the control plane and
the cluster services, as kubectl prints them).
"""

from __future__ import annotations

from typing import Any

import click

from common import errors
from common.resources import RESOURCES, must
from common.tabwriter import format_table
from common.wellknown import CLUSTER_SERVICE_LABEL, SERVICE_NAME_LABEL
from control.cli.flags import command
from control.cli.output import CliError, api_error_message, echo_error, render
from control.cli.session import Client, Session, global_options


def client_version() -> dict[str, str]:
    from importlib.metadata import version

    v = version("tinykube")
    major, minor, *_ = [*v.split("."), "0", "0"][:3]
    return {"major": major, "minor": minor, "gitVersion": f"v{v}"}


@command()
@click.option("--client", "client_only", is_flag=True, help="Only the client version.")
@click.option("-o", "--output", type=click.Choice(["json", "yaml"]), help="Print as JSON or YAML.")
@global_options
@click.pass_obj
def version(session: Session, client_only: bool, output: str | None) -> int:
    """Print the client and server version information."""
    info: dict[str, Any] = {"clientVersion": client_version()}
    failure: errors.ApiError | None = None
    if not client_only:
        try:
            info["serverVersion"] = session.client().request_json("GET", "/version")
        except errors.ApiError as e:
            failure = e
    if output:
        click.echo(render(info, output), nl=False)
    else:
        click.echo(f"Client Version: {info['clientVersion']['gitVersion']}")
        if "serverVersion" in info:
            click.echo(f"Server Version: {info['serverVersion'].get('gitVersion', '')}")
    if failure is not None:
        echo_error(api_error_message(failure))
        return 1
    return 0


def discover(client: Client) -> list[dict[str, Any]]:
    """Every top-level resource of the server as ``{name, shortNames, apiVersion, namespaced,
    kind, verbs, categories}``, core group first."""
    found: list[dict[str, Any]] = []
    group_versions = ["v1"]
    try:
        groups = client.request_json("GET", "/apis").get("groups") or []
        for group in groups:
            preferred = group.get("preferredVersion") or (group.get("versions") or [{}])[0]
            if preferred.get("groupVersion"):
                group_versions.append(str(preferred["groupVersion"]))
    except errors.NotFoundError:
        pass
    for gv in group_versions:
        path = f"/api/{gv}" if "/" not in gv else f"/apis/{gv}"
        for res in client.request_json("GET", path).get("resources") or []:
            if "/" not in str(res.get("name", "")):
                found.append({**res, "apiVersion": gv})
    return found


def _from_table() -> list[dict[str, Any]]:
    return [
        {"name": rt.plural, "shortNames": list(rt.short_names), "apiVersion": rt.api_version,
         "namespaced": rt.namespaced, "kind": rt.kind, "categories": list(rt.categories),
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
        for rt in RESOURCES
    ]  # fmt: skip


def _qualified(res: dict[str, Any]) -> str:
    group = res["apiVersion"].rpartition("/")[0]
    return f"{res['name']}.{group}" if group else str(res["name"])


@command("api-resources")
@click.option("-o", "--output", type=click.Choice(["wide", "name"]), help="wide or name.")
@click.option("--namespaced", type=click.Choice(["true", "false"]), help="Only (non-)namespaced.")
@click.option("--api-group", metavar="GROUP", help="Only this API group ('' for core).")
@click.option("--no-headers", is_flag=True, help="Omit the header line.")
@global_options
@click.pass_obj
def api_resources(
    session: Session, output: str | None, namespaced: str | None, api_group: str | None,
    no_headers: bool,
) -> None:  # fmt: skip
    """Print the supported API resources on the server."""
    try:
        resources = discover(session.client())
    except errors.NotFoundError:
        resources = _from_table()
    if namespaced is not None:
        resources = [r for r in resources if bool(r.get("namespaced")) == (namespaced == "true")]
    if api_group is not None:
        resources = [r for r in resources if r["apiVersion"].rpartition("/")[0] == api_group]
    if output == "name":
        for res in resources:
            click.echo(_qualified(res))
        return
    head = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = []
    for r in resources:
        cells = [str(r["name"]), ",".join(r.get("shortNames") or []), str(r["apiVersion"]),
                 "true" if r.get("namespaced") else "false", str(r.get("kind", ""))]  # fmt: skip
        if output == "wide":
            cells += [f"[{' '.join(r.get('verbs') or [])}]", ",".join(r.get("categories") or [])]
        rows.append(cells)
    if output == "wide":
        head += ["VERBS", "CATEGORIES"]
    click.echo(format_table(head, rows, no_headers=no_headers), nl=False)


@command("cluster-info")
@global_options
@click.pass_obj
def cluster_info(session: Session) -> None:
    """Display the addresses of the control plane and of the services labelled
    kubernetes.io/cluster-service=true in kube-system."""
    client = session.client()
    services = must("services")
    try:
        listing = client.list(
            services, "kube-system", label_selector=f"{CLUSTER_SERVICE_LABEL}=true"
        )
    except errors.ApiError as e:
        if type(e).__name__ == "UnreachableError":
            raise
        raise CliError(api_error_message(e)) from e
    server = session.config().server
    click.echo(f"Kubernetes control plane is running at {server}")
    for svc in sorted(listing.get("items") or [], key=lambda o: str(o["metadata"]["name"])):
        meta = svc.get("metadata") or {}
        name = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL) or meta.get("name", "")
        click.echo(f"{name} is running at {service_link(server, svc)}")
    click.echo("\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.")


def service_link(server: str, svc: dict[str, Any]) -> str:
    """Where ``kubectl cluster-info`` says a cluster service runs: its load balancer, or the API
    server's proxy path ``services/[scheme:]NAME[:PORTNAME]/proxy``."""
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if ingress:
        ip = ingress[0].get("ip") or ingress[0].get("hostname") or ""
        return " ".join(f"http://{ip}:{p.get('port')}" for p in ports) + " "
    name = str(meta.get("name", ""))
    if ports:
        first = ports[0]
        scheme = "https" if first.get("name") == "https" or first.get("port") == 443 else ""
        name = ":".join(part for part in (scheme, name, str(first.get("name") or "")) if part)
    namespace = meta.get("namespace", "")
    return f"{server}/api/v1/namespaces/{namespace}/services/{name}/proxy"
