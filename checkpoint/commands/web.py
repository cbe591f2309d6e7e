"""`checkpoint web`: serve the web app (live screen, visitor log, reports, API)."""

from __future__ import annotations

NAME = "web"
HELP = "serve the web app: live entry screen, visitor log, reports, JSON API"
DESCRIPTION = """Serve the web app with werkzeug's threaded server (a single gate, a kiosk).

  checkpoint web -c checkpoint.toml [--host 0.0.0.0] [--port 5000] [--gate ID] [--kiosk]

For production use gunicorn with the app's settings (one worker, a thread for each
admitted event stream, web.max_event_streams, plus threads for the pages):

  CHECKPOINT_CONFIG=/etc/checkpoint.toml gunicorn -c python:web.gunicorn_config -b 0.0.0.0:5000 'web.wsgi:app'

Create the first account with `checkpoint user add NAME --role admin`."""


def configure(parser) -> None:
    parser.add_argument("--host", help="address to listen on (default: web.host)")
    parser.add_argument("--port", type=int, help="port (default: web.port)")
    parser.add_argument("--gate", help="show only this gate (default: all gates)")
    parser.add_argument("--kiosk", action="store_true", default=None,
                        help="open the entry screen without login (today only, read only)")


def run(args) -> int:
    import logging

    from checkpoint.cli import settings_from_args
    from web import close_app, create_app
    from web.server import make_web_server

    overrides: dict = {"web": {}}
    if args.host:
        overrides["web"]["host"] = args.host
    if args.port:
        overrides["web"]["port"] = args.port
    if args.kiosk:
        overrides["web"]["kiosk"] = True
    settings = settings_from_args(args, overrides)
    app = create_app(settings, {"GATE": args.gate} if args.gate else None)
    server = make_web_server(settings.web.host, settings.web.port, app)
    host = settings.web.host if settings.web.host not in ("0.0.0.0", "::") else "127.0.0.1"
    print(f"Checkpoint web app on http://{host}:{server.port}/  (Ctrl+C to stop)", flush=True)
    logging.getLogger(__name__).info("database: %s", app.config["DATABASE_URL"].split("@")[-1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        close_app(app)
    return 0
