"""``tkctl create service clusterip|nodeport|loadbalancer|externalname NAME`` and ``tkctl expose
TYPE NAME``, building the Services kubectl builds (``kubectl/pkg/cmd/create/create_service.go``,
``kubectl/pkg/cmd/expose``): ports ``--tcp=PORT[:TARGET]`` named after the pair, selector and
label ``app=NAME``; expose takes the selector, ports and protocols from the workload. The
builders are pure; the commands send through ``control.cli.create``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from common import errors, names
from common.resources import ResourceType, lookup, must
from control.cli.flags import command
from control.cli.groups import group
from control.cli.output import CliError
from control.cli.session import Session, global_options

SERVICES = must("services")
# What ``kubectl expose`` accepts (it also takes replication controllers, which tinykube lacks).
EXPOSABLE = ("pods", "services", "deployments", "replicasets")
Obj = dict[str, Any]


def parse_tcp(pair: str) -> tuple[int, int | str]:
    """``80`` or ``80:8080`` or ``80:http``, checked as kubectl's parsePorts does."""
    port_text, _, target_text = pair.partition(":")
    try:
        port = int(port_text)
    except ValueError:
        raise CliError(f'invalid port "{port_text}"') from None  # utilsnet.ParsePort's words
    if not 0 < port < 65536:
        raise CliError(f'invalid port "{port_text}"')
    if not target_text:
        return port, port
    if target_text.lstrip("-").isdigit():
        target = int(target_text)
        problems = names.is_valid_port_num(target)
        if problems:
            raise CliError(",".join(problems))
        return port, target
    problems = names.is_valid_port_name(target_text)
    if problems:
        raise CliError(",".join(problems))
    return port, target_text


def build_service(
    kind: str,
    name: str,
    tcp: Sequence[str] = (),
    cluster_ip: str = "",
    node_port: int = 0,
    external_name: str = "",
) -> Obj:
    """The Service ``kubectl create service <kind>`` builds. Pure, but for refusing bad flags."""
    if cluster_ip == "None" and kind != "ClusterIP":
        raise CliError("ClusterIP=None can only be used with ClusterIP service type")
    if cluster_ip != "None" and not tcp and kind != "ExternalName":
        raise CliError("at least one tcp port specifier must be provided")
    if kind == "ExternalName" and names.is_dns1123_subdomain(external_name):
        raise CliError(f"invalid service external name {external_name}")
    ports = []
    for pair in tcp:
        port, target = parse_tcp(pair)
        entry: Obj = {"name": pair.replace(":", "-"), "port": port, "targetPort": target,
                      "protocol": "TCP"}  # fmt: skip
        if node_port:
            entry["nodePort"] = node_port
        ports.append(entry)
    spec: Obj = {"type": kind, "selector": {"app": name}}
    if ports:
        spec["ports"] = ports
    if external_name:
        spec["externalName"] = external_name
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "labels": {"app": name}}, "spec": spec}  # fmt: skip


@group("service")
def service() -> None:
    """Create a service using a specified subcommand."""


_tcp = click.option("--tcp", "tcp", multiple=True, metavar="PORT:TARGET",
                    help="Port pairs can be specified as '<port>:<targetPort>'.")  # fmt: skip
_output = click.option("-o", "--output", type=click.Choice(["yaml", "json", "name"]))
_dry_run = click.option(
    "--dry-run", type=click.Choice(["none", "client", "server"]), default="none",
    help="Only print the object that would be sent.",
)  # fmt: skip


def _split(values: Sequence[str]) -> list[str]:
    """A StringSlice flag: repeated, and comma-separated within one value."""
    return [part for value in values for part in value.split(",") if part]


def _send(session: Session, obj: Obj, dry_run: str, output: str | None) -> None:
    from control.cli.create import _send as send  # create imports this module's group

    send(session, SERVICES, obj, dry_run, output)


def _create(session: Session, obj: Obj, dry_run: str, output: str | None) -> None:
    try:
        _send(session, obj, dry_run, output)
    except errors.ApiError as e:
        raise CliError(f"failed to create {obj['spec']['type']} service: {e.message}") from e


@command()
@click.argument("name")
@_tcp
@click.option(
    "--clusterip",
    "cluster_ip",
    default="",
    metavar="IP",
    help="Assign your own ClusterIP or set to 'None' for a 'headless' service.",
)
@_dry_run
@_output
@global_options
@click.pass_obj
def clusterip(session: Session, name: str, tcp: tuple[str, ...], cluster_ip: str, dry_run: str,
              output: str | None) -> None:  # fmt: skip
    """Create a ClusterIP service: tkctl create service clusterip NAME [--tcp=PORT:TARGET]"""
    _create(session, build_service("ClusterIP", name, _split(tcp), cluster_ip), dry_run, output)


@command()
@click.argument("name")
@_tcp
@click.option(
    "--node-port",
    type=int,
    default=0,
    help="Port used to expose the service on each node in a cluster.",
)
@_dry_run
@_output
@global_options
@click.pass_obj
def nodeport(session: Session, name: str, tcp: tuple[str, ...], node_port: int, dry_run: str,
             output: str | None) -> None:  # fmt: skip
    """Create a NodePort service: tkctl create service nodeport NAME [--tcp=PORT:TARGET]"""
    obj = build_service("NodePort", name, _split(tcp), node_port=node_port)
    _create(session, obj, dry_run, output)


@command()
@click.argument("name")
@_tcp
@_dry_run
@_output
@global_options
@click.pass_obj
def loadbalancer(session: Session, name: str, tcp: tuple[str, ...], dry_run: str,
                 output: str | None) -> None:  # fmt: skip
    """Create a LoadBalancer service: tkctl create service loadbalancer NAME [--tcp=...]"""
    _create(session, build_service("LoadBalancer", name, _split(tcp)), dry_run, output)


@command()
@click.argument("name")
@_tcp
@click.option("--external-name", required=True, help="External name of service.")
@_dry_run
@_output
@global_options
@click.pass_obj
def externalname(session: Session, name: str, tcp: tuple[str, ...], external_name: str,
                 dry_run: str, output: str | None) -> None:  # fmt: skip
    """Create an ExternalName service: tkctl create service externalname NAME --external-name X"""
    obj = build_service("ExternalName", name, _split(tcp), external_name=external_name)
    _create(session, obj, dry_run, output)


for _cmd in (clusterip, nodeport, loadbalancer, externalname):
    service.add_command(_cmd)


# -- expose ---------------------------------------------------------------------------------------


def _m(obj: object, key: str) -> Mapping[str, Any]:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _containers(rt: ResourceType, obj: Obj) -> list[Mapping[str, Any]]:
    spec = _m(obj, "spec")
    if rt.plural != "pods":
        spec = _m(_m(spec, "template"), "spec")
    return [c for c in spec.get("containers") or [] if isinstance(c, Mapping)]


def selector_of(rt: ResourceType, obj: Obj) -> dict[str, str]:
    """MapBasedSelectorForObject: a pod's labels, a Service's selector, a workload's
    matchLabels (a selector with expressions cannot be exposed)."""
    if rt.plural == "pods":
        return dict(_m(obj, "metadata").get("labels") or {})
    if rt.plural == "services":
        return dict(_m(obj, "spec").get("selector") or {})
    selector = _m(_m(obj, "spec"), "selector")
    if selector.get("matchExpressions"):
        raise CliError(
            "couldn't convert expressions - "
            f'"{selector["matchExpressions"]}" to map-based selector format'
        )
    return dict(selector.get("matchLabels") or {})


def ports_of(rt: ResourceType, obj: Obj) -> list[tuple[int, str]]:
    """PortsForObject and ProtocolsForObject: (port, protocol) of the containers' ports, or of
    the Service's ports."""
    if rt.plural == "services":
        items = [p for p in _m(obj, "spec").get("ports") or [] if isinstance(p, Mapping)]
        return [(int(p.get("port", 0)), str(p.get("protocol") or "TCP")) for p in items]
    out = []
    for c in _containers(rt, obj):
        for p in c.get("ports") or []:
            if isinstance(p, Mapping) and p.get("containerPort"):
                out.append((int(p["containerPort"]), str(p.get("protocol") or "TCP")))
    return out


def _pairs(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def _expose_ports(found: list[tuple[int, str]], opts: Mapping[str, Any]) -> list[Obj]:
    """The Service's ports: ``--port`` or the object's, named ``port-N`` when several, with
    the object's protocols (``port-N-udp`` when one port has several) unless ``--protocol``."""
    if opts.get("port"):
        try:
            wanted = [int(opts["port"])]
        except ValueError:
            raise CliError(f'strconv.Atoi: parsing "{opts["port"]}": invalid syntax') from None
    else:
        wanted = list(dict.fromkeys(p for p, _ in found))
    if not wanted and opts.get("cluster_ip") != "None":
        raise click.UsageError("couldn't find port via --port flag or introspection")
    protocols: dict[int, list[str]] = {}
    for port, protocol in found:
        protocols.setdefault(port, []).append(protocol)
    ports: list[Obj] = []
    for i, port in enumerate(wanted):
        chosen = [opts["protocol"]] if opts.get("protocol") else protocols.get(port) or ["TCP"]
        for protocol in chosen:
            entry: Obj = {"port": port, "protocol": protocol}
            if len(chosen) > 1:
                entry["name"] = f"port-{i + 1}-{protocol.lower()}"
            elif len(wanted) > 1:
                entry["name"] = f"port-{i + 1}"
            ports.append(entry)
    target = str(opts.get("target_port") or "")
    for entry in ports:
        entry["targetPort"] = (
            (int(target) if target.isdigit() else target) if target else (entry["port"])
        )
    return ports


def expose_service(rt: ResourceType, obj: Obj, opts: Mapping[str, Any]) -> Obj:
    """The Service ``kubectl expose`` builds for ``obj``. Pure, but for refusing bad input."""
    meta = _m(obj, "metadata")
    selector = _pairs(opts["selector"]) if opts.get("selector") else selector_of(rt, obj)
    if not selector:
        raise CliError("couldn't retrieve selectors via --selector flag or introspection")
    spec: Obj = {"selector": selector, "ports": _expose_ports(ports_of(rt, obj), opts)}
    for flag, key in (("type", "type"), ("cluster_ip", "clusterIP"),
                      ("session_affinity", "sessionAffinity")):  # fmt: skip
        if opts.get(flag):
            spec[key] = opts[flag]
    if opts.get("external_ip"):
        spec["externalIPs"] = [opts["external_ip"]]
    svc_meta: Obj = {"name": opts.get("name") or meta.get("name", "")}
    labels = _pairs(opts["labels"]) if opts.get("labels") else meta.get("labels")
    if labels:
        svc_meta["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Service", "metadata": svc_meta, "spec": spec}


@command()
@click.argument("args", nargs=-1, required=True)
@click.option("--port", default="", help="The port that the service should serve on.")
@click.option("--target-port", default="", help="Name or number of the port on the container.")
@click.option("--protocol", default="", help="The network protocol for the service.")
@click.option("--name", default="", help="The name for the newly created object.")
@click.option(
    "--type",
    "type_",
    default="",
    help="Type for this service: ClusterIP, NodePort, LoadBalancer, or ExternalName.",
)
@click.option("--selector", default="", help="A label selector to use for this service.")
@click.option("-l", "--labels", default="", help="Labels to apply to the service.")
@click.option("--cluster-ip", default="", help="ClusterIP to be assigned to the service.")
@click.option("--external-ip", default="", help="Additional external IP address.")
@click.option("--session-affinity", default="", help="None or ClientIP.")
@_dry_run
@_output
@global_options
@click.pass_obj
def expose(session: Session, args: tuple[str, ...], port: str, target_port: str, protocol: str,
           name: str, type_: str, selector: str, labels: str, cluster_ip: str, external_ip: str,
           session_affinity: str, dry_run: str, output: str | None) -> None:  # fmt: skip
    """Expose a pod, service, deployment or replica set as a new Service:
    tkctl expose TYPE NAME [--port=PORT] [--target-port=PORT] [--type=TYPE] [--name=NAME]"""
    kind, _, obj_name = args[0].partition("/")
    if not obj_name:
        if len(args) < 2:
            raise click.UsageError("you must provide a resource name", click.get_current_context())
        obj_name = args[1]
    rt = lookup(kind)
    if rt is None:
        raise CliError(f'the server doesn\'t have a resource type "{kind}"')
    if rt.plural not in EXPOSABLE:
        raise CliError(f"cannot expose a {rt.kind}")
    obj = session.client().get(rt, obj_name, session.default_namespace)
    opts = {"port": port, "target_port": target_port, "protocol": protocol, "name": name,
            "type": type_, "selector": selector, "labels": labels, "cluster_ip": cluster_ip,
            "external_ip": external_ip, "session_affinity": session_affinity}  # fmt: skip
    svc = expose_service(rt, obj, opts)
    if dry_run == "client" or output:
        _send(session, svc, dry_run, output)
        return
    created = session.client().create(SERVICES, svc, session.default_namespace)
    click.echo(f"service/{created['metadata']['name']} exposed")
