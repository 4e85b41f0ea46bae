"""`python -m bench` runs every benchmark, each in a process of its own, then prints a summary;
`python -m bench NAME [options]` runs one (`python -m bench NAME --help` lists its options).

A benchmark is a module here with `run(argv) -> dict` (its results, with "ok" and "seconds") and
`print_table(result)`; its results are saved as bench/results/NAME-<time>.json and
NAME-latest.json, and the exit status is 0 when its targets are met.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time

from bench.common import RESULTS, ROOT, finish

BENCHMARKS = ["pages", "delivery", "soak", "markdown", "email", "interactions", "cards"]


def main(argv: list[str]) -> int:
    if argv and argv[0] in BENCHMARKS:
        benchmark = importlib.import_module(f"bench.{argv[0]}")
        return finish(argv[0], benchmark.run(argv[1:]), benchmark.print_table)
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__, f"Benchmarks: {', '.join(BENCHMARKS)}.", sep="\n")
        return 0
    if argv:  # options go after a benchmark's name: `--minutes` means nothing to `pages`
        known = f"known: {', '.join(BENCHMARKS)}; python -m bench NAME [options]"
        print(f"Unknown benchmark {argv[0]!r} ({known}).", file=sys.stderr)
        return 2
    outcomes = {}
    for name in BENCHMARKS:
        started = time.time()
        # A process each: a benchmark sets Django up for its own database and settings.
        code = subprocess.run([sys.executable, "-m", "bench", name], check=False).returncode
        outcomes[name] = (code, time.time() - started, started)
    print(f"\n{'benchmark':<12} {'seconds':>8}  {'targets':<8} result file\n{'-' * 50}")
    for name, (code, seconds, started) in outcomes.items():
        latest = RESULTS / f"{name}-latest.json"
        fresh = latest.exists() and latest.stat().st_mtime >= started
        seconds = json.loads(latest.read_text())["seconds"] if fresh else seconds
        verdict = {0: "met", 1: "missed"}.get(code, f"error {code}")
        print(
            f"{name:<12} {seconds:8.0f}  {verdict:<8} {latest.relative_to(ROOT) if fresh else '—'}"
        )
    return max(code for code, _, _ in outcomes.values())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
