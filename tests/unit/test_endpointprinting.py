"""kubectl's columns for Endpoints and EndpointSlices."""

from __future__ import annotations

import datetime as dt

from common.endpointprinting import format_endpoints
from common.printers import headers, printer_for, row

NOW = dt.datetime(2026, 1, 1, 0, 10, tzinfo=dt.UTC)
META = {"name": "web", "creationTimestamp": "2026-01-01T00:00:00Z"}


def addresses(*ips: str) -> list[dict[str, str]]:
    return [{"ip": ip} for ip in ips]


def test_endpoints_columns_and_more() -> None:
    printer = printer_for("endpoints")
    assert headers(printer) == ["NAME", "ENDPOINTS", "AGE"]
    ep = {"metadata": META, "subsets": [{"addresses": addresses("10.244.0.5", "10.244.0.6",
          "10.244.0.7", "10.244.0.8"), "ports": [{"port": 80}]}]}  # fmt: skip
    assert row(printer, ep, NOW) == ["web", "10.244.0.5:80,10.244.0.6:80,10.244.0.7:80 + 1 more...",
                                     "10m"]  # fmt: skip


def test_endpoints_cells_edge_cases() -> None:
    assert format_endpoints({}) == "<none>"
    assert format_endpoints({"subsets": [{"notReadyAddresses": addresses("10.0.0.1")}]}) == ""
    headless = {"subsets": [{"addresses": addresses("10.0.0.1", "10.0.0.2")}]}
    assert format_endpoints(headless) == "10.0.0.1,10.0.0.2"
    ports = [{"name": "a", "port": 80}, {"name": "b", "port": 81}]
    two_ports = {"subsets": [{"addresses": addresses("10.0.0.1", "fd00::1"), "ports": ports}]}
    assert format_endpoints(two_ports) == "10.0.0.1:80,[fd00::1]:80,10.0.0.1:81 + 1 more..."
    assert format_endpoints(two_ports, {"b"}) == "10.0.0.1:81,[fd00::1]:81"


def test_endpointslice_columns() -> None:
    printer = printer_for("endpointslices")
    assert headers(printer) == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    eps = [{"addresses": [f"10.244.0.{i}"]} for i in range(1, 6)]
    s = {"metadata": {**META, "name": "web-abcde"}, "addressType": "IPv4", "endpoints": eps,
         "ports": [{"name": "http", "port": 8080}, {"name": "x"}, {}, {"port": 1}]}  # fmt: skip
    more = "10.244.0.1,10.244.0.2,10.244.0.3 + 2 more..."
    assert row(printer, s, NOW) == ["web-abcde", "IPv4", "8080,x,* + 1 more...", more, "10m"]
    empty = {"metadata": META, "addressType": "IPv4", "endpoints": [], "ports": []}
    assert row(printer, empty, NOW)[2:4] == ["<unset>", "<unset>"]
