"""The API's listening socket, bound before anything else starts (uvicorn serves on it).

A port that is taken is then an error at start, named with the setting to
change, instead of a server thread that dies while the rest of the service
runs on without its API.
"""

from __future__ import annotations

import errno
import socket


class ApiPortError(RuntimeError):
    """The API's address cannot be bound; worded for the operator."""


def listen_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for ``host:port`` (uvicorn listens on it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        why = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise ApiPortError(f"cannot serve the API on {host}:{port}: {why}. Set FAULTLINE_API_PORT "
                           "(and FAULTLINE_API_HOST) to a free address, or stop the other process") from None
    sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
    return sock

