"""WSGI entry point, used by gunicorn: `gunicorn portal.wsgi`."""

import os
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_wsgi_application()

# Each web process builds its index of the published items' words as it starts, in a thread of
# its own, rather than in its first search (newsletter/search_index.py).
from newsletter import search_index  # noqa: E402  (once Django is set up)

threading.Thread(target=search_index.warm, name="search-index", daemon=True).start()
