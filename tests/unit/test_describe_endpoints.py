"""``describe endpoints`` and ``describe endpointslices`` in kubectl's layout."""

from __future__ import annotations

import datetime as dt

from control.cli import describe as _describe  # noqa: F401  (tkctl's describers, registered)
from control.cli.describers import describer_for

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
META = {"name": "web", "namespace": "default", "labels": {"app": "web"}}


def test_describe_endpoints() -> None:
    ep = {"metadata": META, "subsets": [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
         "ports": [{"port": 8080, "protocol": "TCP"}]},
        {"notReadyAddresses": [{"ip": "10.0.0.3"}]}]}  # fmt: skip
    assert describer_for("endpoints")(ep, [], NOW) == (
        "Name:         web\n"
        "Namespace:    default\n"
        "Labels:       app=web\n"
        "Annotations:  <none>\n"
        "Subsets:\n"
        "  Addresses:          10.0.0.1,10.0.0.2\n"
        "  NotReadyAddresses:  <none>\n"
        "  Ports:\n"
        "    Name     Port  Protocol\n"
        "    ----     ----  --------\n"
        "    <unset>  8080  TCP\n"
        "\n"
        "  Addresses:          <none>\n"
        "  NotReadyAddresses:  10.0.0.3\n"
        "\n"
        "Events:  <none>\n"
    )


def test_describe_endpoint_slice() -> None:
    s = {"metadata": {**META, "name": "web-abcde"}, "addressType": "IPv4",
         "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
         "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True},
                        "targetRef": {"kind": "Pod", "name": "web-1"}, "nodeName": "node-1"},
                       {"addresses": ["10.0.0.2"], "conditions": {}}]}  # fmt: skip
    assert describer_for("endpointslices")(s, None, NOW) == (
        "Name:         web-abcde\n"
        "Namespace:    default\n"
        "Labels:       app=web\n"
        "Annotations:  <none>\n"
        "AddressType:  IPv4\n"
        "Ports:\n"
        "  Name  Port  Protocol\n"
        "  ----  ----  --------\n"
        "  http  8080  TCP\n"
        "Endpoints:\n"
        "  - Addresses:  10.0.0.1\n"
        "    Conditions:\n"
        "      Ready:    true\n"
        "    Hostname:   <unset>\n"
        "    TargetRef:  Pod/web-1\n"
        "    NodeName:   node-1\n"
        "    Zone:       <unset>\n"
        "  - Addresses:  10.0.0.2\n"
        "    Conditions:\n"
        "      Ready:   <unset>\n"
        "    Hostname:  <unset>\n"
        "    NodeName:  <unset>\n"
        "    Zone:      <unset>\n"
    )
    empty = {"metadata": META, "addressType": "IPv4", "ports": [], "endpoints": []}
    text = describer_for("endpointslices")(empty, None, NOW)
    assert text.endswith("AddressType:  IPv4\nPorts: <unset>\nEndpoints: <none>\n")
