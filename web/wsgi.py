"""WSGI entry point for production servers: ``gunicorn -c python:web.gunicorn_config 'web.wsgi:app'``.

The configuration file is named by the CHECKPOINT_CONFIG environment variable
(CHECKPOINT_* variables override it). web/gunicorn_config.py runs one worker
(the live screen's event poller and the login limiter live in the process),
with a thread for each event stream the app admits and threads for the pages.
"""

from __future__ import annotations

import os

from checkpoint.config import load_settings
from web import create_app

app = create_app(load_settings(os.environ.get("CHECKPOINT_CONFIG") or None))
