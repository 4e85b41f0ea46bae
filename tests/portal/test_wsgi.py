"""The WSGI entry point's start-up: each web process freezes what lives as long as it does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

START = """
import gc, json, sys, threading
import portal.wsgi
for thread in threading.enumerate():
    if thread.name == "start-up":
        thread.join(60)
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "views_imported": "newsletter.views.search" in sys.modules,
    "still_starting": any(t.name == "start-up" for t in threading.enumerate()),
}))
"""


def test_a_web_process_freezes_django_and_its_urls_once_started():
    """After the start-up thread, Django, every view module and the URLs are in the cycle
    collector's permanent generation: full collections no longer walk them (portal/wsgi.py)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}
    }
    # SQLite: no index to build, so the start-up is the freezing alone.
    environment.update(DEBUG="true", DATABASE_URL="sqlite:///:memory:")
    result = subprocess.run(
        [sys.executable, "-c", START],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    started = json.loads(result.stdout.strip().splitlines()[-1])
    assert not started["still_starting"]
    assert started["views_imported"]
    assert started["frozen"] > 50_000
