"""`tongket metrics`: a small HTTP server of Prometheus metrics, computed from the database per scrape."""

from __future__ import annotations

import signal
import threading
from typing import Annotated
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import typer

from tongket.cli.console import errors
from tongket.worker.settings import get_settings

app = typer.Typer()


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # the stdlib's own name
        pass  # one line per scrape is noise in the service's log


@app.command("metrics")
def metrics(
    port: Annotated[int, typer.Option(help="TCP port of /metrics.")] = 9464,
    bind: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 in a container.")] = "127.0.0.1",
) -> None:
    """Serve Prometheus metrics at http://BIND:PORT/metrics (runs, communes, emails, intake) until stopped."""
    from prometheus_client import make_wsgi_app

    from tongket.worker.logs import masked
    from tongket.worker.metrics import registry_for

    settings = get_settings()
    server: WSGIServer = make_server(bind, port, make_wsgi_app(registry_for(settings.db_url)), handler_class=_Quiet)
    errors.print(
        f"Serving metrics of {masked(settings.db_url)} at http://{bind}:{server.server_port}/metrics", highlight=False
    )
    # docker stop: end serve_forever from another thread (it waits for it). Raising from the handler would
    # not do: a SIGTERM that lands while a response is written is swallowed by wsgiref's error handling.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
