"""WSGI entry point, used by gunicorn: `gunicorn portal.wsgi`."""

import gc
import os
import threading

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_wsgi_application()

from newsletter import search_index  # noqa: E402  (once Django is set up)


def _start() -> None:
    """What each web process does as it starts, in a thread of its own so no reader waits: it
    builds its index of the published items' words (newsletter/search_index.py), then freezes
    what is alive by then (Django, our modules and URLs, the index), all of which lives as long
    as the process. Python's cycle collector then no longer walks those 140,000 objects in each
    full collection: it did so every few thousand requests, 50 to 200 ms each, holding up all
    of the process's threads (the slowest searches of a benchmark run were those)."""
    try:
        search_index.warm()
    finally:
        get_resolver().url_patterns  # noqa: B018  (imports the URLconf and every view module)
        gc.collect()
        gc.freeze()


threading.Thread(target=_start, name="start-up", daemon=True).start()
