"""Benchmarks: `python -m bench` runs them all, `python -m bench NAME [options]` runs one.

Each benchmark is a module of this package with `main(argv) -> int` (0 when its targets are
met) that prints its own table and saves `bench/results/NAME-<time>.json` and
`bench/results/NAME-latest.json` (with at least "ok" and "seconds"). To add one, write the
module and add a line to BENCHMARKS.
"""

from __future__ import annotations

BENCHMARKS: dict[str, tuple[str, str]] = {
    # name: (module, what it measures)
    "pages": ("bench.pages", "reader pages under load: requests per second, p50/p99 latency"),
    "delivery": ("bench.delivery", "Discord delivery time against the floor of the rate limit"),
    "soak": ("bench.soak", "10 minutes of mixed traffic: no 5xx, nothing lost, sent once"),
    "email": ("bench.email", "an issue to 50,000 subscribers: sends created, pace, memory"),
}
