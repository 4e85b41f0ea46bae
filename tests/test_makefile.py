"""`make run PORT=…`: the port served, and SITE_URL (links in emails, feeds) follows it."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def run_commands(*args: str, env: dict | None = None) -> list[str]:
    """What `make run` would run, each command printed by `echo` with SITE_URL as it sees it."""
    environ = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "PORT")}
    result = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "run", "PY=echo SITE=$$SITE_URL", *args],
        cwd=ROOT,
        env={**environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_make_run_serves_port_8000_by_default():
    assert run_commands()[-1] == "SITE=http://127.0.0.1:8000 manage.py runserver 127.0.0.1:8000"


def test_make_run_port_moves_the_server_and_site_url():
    lines = run_commands("PORT=8123")
    assert lines[-1] == "SITE=http://127.0.0.1:8123 manage.py runserver 127.0.0.1:8123"
    assert "SITE=http://127.0.0.1:8123 manage.py demo_data" in lines


def test_make_run_keeps_a_site_url_of_ones_own():
    lines = run_commands("PORT=8123", env={"SITE_URL": "https://news.example.org"})
    assert lines[-1] == "SITE=https://news.example.org manage.py runserver 127.0.0.1:8123"
