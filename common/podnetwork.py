"""The host's address on the pods' network: the IPv4 address of the Docker bridge (``docker0``,
the gateway of every pod on the default bridge). ``tinykube up`` has the API server also listen
there, so pods reach it through the ``kubernetes`` Service while it stays off every other
network. Effectful (one ioctl); None when the host has no such interface.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct

DOCKER_BRIDGE = "docker0"
SIOCGIFADDR = 0x8915  # Linux: the interface's IPv4 address


def bridge_address(interface: str = DOCKER_BRIDGE) -> str | None:
    """The IPv4 address of ``interface`` on this host, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            raw = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", interface.encode()[:15]))
        except OSError:
            return None
    address = ipaddress.IPv4Address(raw[20:24])
    return None if address.is_unspecified or address.is_loopback else str(address)
