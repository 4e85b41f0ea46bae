"""Run the benchmarks: `python -m bench` (all, then a summary), `python -m bench NAME [options]`."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time

from bench import BENCHMARKS
from bench.common import RESULTS, ROOT


def run_one(name: str, argv: list[str]) -> int:
    module = importlib.import_module(BENCHMARKS[name][0])
    return module.main(argv)


def summary(outcomes: dict[str, tuple[int, float, float]]) -> None:
    print()
    header = f"{'benchmark':<12} {'seconds':>8}  {'targets':<8} result file"
    print(header)
    print("-" * len(header))
    for name, (code, seconds, started_at) in outcomes.items():
        latest = RESULTS / f"{name}-latest.json"
        fresh = latest.exists() and latest.stat().st_mtime >= started_at
        saved = latest.relative_to(ROOT) if fresh else "—"
        if fresh:
            seconds = json.loads(latest.read_text()).get("seconds", seconds)
        verdict = "met" if code == 0 else ("missed" if code == 1 else f"error {code}")
        print(f"{name:<12} {seconds:8.0f}  {verdict:<8} {saved}")


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        for name, (_, what) in BENCHMARKS.items():
            print(f"  {name:<10} {what}")
        return 0
    if argv and not argv[0].startswith("-"):
        name, rest = argv[0], argv[1:]
        if name not in BENCHMARKS:
            print(f"Unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}.", file=sys.stderr)
            return 2
        return run_one(name, rest)
    if argv:  # each benchmark has its own options: `--minutes` means nothing to `pages`
        print(
            "Options go with a benchmark's name: python -m bench NAME [options] "
            '(make bench BENCH_ARGS="NAME [options]").',
            file=sys.stderr,
        )
        return 2
    outcomes: dict[str, tuple[int, float, float]] = {}
    for name in BENCHMARKS:
        started, started_at = time.perf_counter(), time.time()
        # Each in its own process: a benchmark sets Django up for its own database and
        # settings, and Django is set up once per process.
        code = subprocess.run([sys.executable, "-m", "bench", name], check=False).returncode
        outcomes[name] = (code, time.perf_counter() - started, started_at)
    summary(outcomes)
    return max((code for code, _, _ in outcomes.values()), default=0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
