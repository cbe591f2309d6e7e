"""gunicorn settings for the web app, sized from the Checkpoint configuration (the production server):

    CHECKPOINT_CONFIG=/etc/checkpoint/web.toml gunicorn -c python:web.gunicorn_config 'web.wsgi:app'

- One worker: the live screen's event poller and the login limiter live in the process.
- gthread, with one thread for each event stream the app admits (``web.max_event_streams``, 500) plus
  PAGE_THREADS for everything else, so open screens can never take the threads the pages need; streams
  over the caps are refused with 429/503 at once (web/events.py).
- ``bind`` is ``web.host:web.port``; ``-b`` on the command line overrides it, as does any other option.

Whatever the command line says (``--threads 16``, another worker class), post_worker_init lowers the
stream cap so that PAGE_THREADS (or half the capacity, if smaller) stay for the pages, and logs it.

Why gthread and not gevent: bench/bench_streams.py measured both holding 500 streams with /healthz in a
few milliseconds, but here the database drivers (sqlite3, psycopg) and password hashing release the GIL
in threads, while under gevent each of them would stop every stream and page for its duration.
"""

from __future__ import annotations

import os

from checkpoint.config import load_settings

PAGE_THREADS = 64  # threads kept for pages, the API and /healthz beside the event streams

_web = load_settings(os.environ.get("CHECKPOINT_CONFIG") or None).web

workers = 1
worker_class = "gthread"
threads = _web.max_event_streams + PAGE_THREADS
worker_connections = threads + 256  # beyond the threads: kept-alive page connections, parked in the poller
bind = [f"[{_web.host}]:{_web.port}" if ":" in _web.host else f"{_web.host}:{_web.port}"]
graceful_timeout = 5  # event streams never end by themselves; the screens reconnect to the new worker


def stream_room(worker_class_name: str, threads_: int, connections: int) -> int:
    """How many event streams a worker can hold and still serve pages."""
    if worker_class_name in ("GeventWorker", "EventletWorker", "TornadoWorker"):
        capacity = connections  # one greenlet per connection
    elif worker_class_name == "ThreadWorker":
        capacity = threads_
    else:  # sync: one request at a time, so a stream would block every page
        return 0
    return capacity - min(PAGE_THREADS, capacity // 2)


def post_worker_init(worker) -> None:
    broker = worker.wsgi.extensions["checkpoint"].broker
    room = stream_room(type(worker).__name__, worker.cfg.threads, worker.cfg.worker_connections)
    if broker.max_streams is None or broker.max_streams > room:
        worker.log.warning("event streams capped at %d (web.max_event_streams is %s): %s with %d threads and "
                           "%d connections keeps the rest for the pages", room, broker.max_streams,
                           type(worker).__name__, worker.cfg.threads, worker.cfg.worker_connections)
        broker.max_streams = room
