"""WSGI entry point for production servers: ``gunicorn -w 1 --threads 16 'web.wsgi:app'``.

The configuration file is named by the CHECKPOINT_CONFIG environment variable
(CHECKPOINT_* variables override it). Use one worker: the live screen's event
poller and the login limiter live in the process; threads serve the streams.
"""

from __future__ import annotations

import os

from checkpoint.config import load_settings
from web import create_app

app = create_app(load_settings(os.environ.get("CHECKPOINT_CONFIG") or None))
