"""Several ports on one WebSocket port-forward (``?ports=80,443``, as the kubelet's WebSocket
port-forward and the kubernetes Python client speak it): port ``i`` has channels ``2i`` (data)
and ``2i+1`` (error). One agent connection per port; ``PortMux`` shows them as one stream of
channel frames, which ends once every port's has. Effectful (threads).
"""

from __future__ import annotations

import queue
import threading

from common import channels
from common.channelsock import ChannelSocket


class PortMux:
    """The agent connections of the ports, in order, as one ``ChannelSocket``-like object."""

    def __init__(self, agents: list[ChannelSocket]) -> None:
        self.agents = agents
        self._frames: queue.Queue[tuple[int, bytes] | None] = queue.Queue()
        self._open = len(agents)
        for index, agent in enumerate(agents):
            threading.Thread(target=self._read, args=(index, agent), daemon=True).start()

    def _read(self, index: int, agent: ChannelSocket) -> None:
        while (frame := agent.recv()) is not None:
            self._frames.put((2 * index + frame[0], frame[1]))
        self._frames.put(None)

    def recv(self) -> tuple[int, bytes] | None:
        """The next frame of any port (its channel numbered for the client); None once all
        ports have ended."""
        while self._open:
            frame = self._frames.get()
            if frame is not None:
                return frame
            self._open -= 1
        return None

    def send(self, channel: int, payload: bytes = b"") -> bool:
        """A client's frame to its port: data, or the end of its data (the CLOSE channel)."""
        if channel == channels.CLOSE and payload:
            index, own = divmod(payload[0], 2)
            if index < len(self.agents):
                self.agents[index].send(channels.CLOSE, bytes([own]))
            return True
        index, own = divmod(channel, 2)
        if index < len(self.agents) and own == channels.DATA:
            self.agents[index].send(channels.DATA, payload)
        return True

    def shutdown(self) -> None:
        for agent in self.agents:
            agent.shutdown()

    def close(self) -> None:
        for agent in self.agents:
            agent.close()
