"""The built-in server for `checkpoint run`, `demo` and `web`: werkzeug's threaded server, without its banner.

Werkzeug answers every request with ``Server: Werkzeug/3.1.9 Python/3.11.7``,
which tells a scanner the exact versions to look up; this server says
``Server: checkpoint`` instead. Each event stream holds one thread here; the
app caps them (web.max_event_streams, web.max_event_streams_per_address).
For many screens run gunicorn as README.md and docs/api.md describe.
"""

from __future__ import annotations

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

SERVER_NAME = "checkpoint"


class RequestHandler(WSGIRequestHandler):
    def version_string(self) -> str:  # the Server header; werkzeug's names itself and Python's version
        return SERVER_NAME


def make_web_server(host: str, port: int, app) -> BaseWSGIServer:
    """A threaded server for ``app`` on host:port (port 0 picks a free one: see ``.server_port``)."""
    return make_server(host, port, app, threaded=True, request_handler=RequestHandler)
