"""Small HTTP servers the client tests talk to (``http.server``): the one way they answer
JSON."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler


def send_json(handler: BaseHTTPRequestHandler, code: int, body: bytes) -> None:
    """Answer the handler's request with ``code`` and the JSON text ``body``."""
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
