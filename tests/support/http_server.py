"""A local HTTP server for transport tests whose client hangs up on purpose."""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer


def quiet_http_server(handler):
    """A threading HTTP server on a free local port that does not print a traceback when a client
    hung up first (tests whose client times out on purpose); any other handler error is printed."""

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

    return Server(("127.0.0.1", 0), handler)
