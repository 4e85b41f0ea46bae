"""Markdown rendering of hostile text: the worst inputs found, timed through `render_markdown`.

    python -m bench markdown          (or: python -m bench.markdown [--large 100000])

Each input repeats one pattern that makes a Markdown parser look ahead or nest: unclosed link
and image openers, emphasis mixed with them, runs of backticks, deep quotes and lists, wide
tables. Each is rendered at the longest text a member can make the server render (the
summary's limit, or what autofill keeps from a fetched page, whichever is longer), best of 5,
and best of 3 at `--large` characters (100,000; 0 skips it). `--limit N` times the target at N
characters instead, to see what a higher limit would cost.

Target: every input renders in under 100 ms at the members' limit, and (security 2) at 100 kB
too; docs/security.md has the figures. At 100 kB the processor time is printed beside the
clock's: on a shared machine the clock also counts the waits for a core.
No database, no Redis.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bench.common import finish, machine

TARGET_MS = 100.0
REPEAT = 5
LARGE_REPEAT = 3


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda size: (unit * (size // len(unit) + 1))[:size]


def _growing(line: Callable[[int], str]) -> Callable[[int], str]:
    """Line i from line(i): each line one level deeper than the one before."""

    def build(size: int) -> str:
        lines, length, depth = [], 0, 1
        while length < size:
            lines.append(line(depth))
            length += len(lines[-1])
            depth += 1
        return "".join(lines)[:size]

    return build


def _backtick_runs(size: int) -> str:
    """`a``a```a…: code spans whose closing run never comes."""
    return _growing(lambda depth: "`" * depth + "a")(size)


def _wide_table(size: int) -> str:
    columns = size // 6
    head = "|" + "a|" * columns + "\n|" + "-|" * columns + "\n"
    return head + _repeat("x\n")(size - len(head))


def _long_table(size: int) -> str:
    head = "| a | b | c |\n|---|:-:|--:|\n"
    return head + _repeat("| *[ | ![ | ` |\n")(size - len(head))


def _one_column_table(size: int) -> str:
    return "|a|\n|-|\n" + _repeat("|x|\n")(size - 8)


def _nested_emphasis(size: int) -> str:
    """*_*_…x…_*_*: emphasis inside emphasis, every level closed."""
    half = size // 2 - size // 2 % 2
    return ("*_" * (half // 2) + "x" + "_*" * (half // 2))[:size]


def _tables(row: str) -> Callable[[int], str]:
    """Tables ten columns wide, one after another, each with ten rows of `row`."""
    return _repeat("|" + "a|" * 10 + "\n|" + "-|" * 10 + "\n" + row * 10 + "\n")


WORST_CASES: dict[str, Callable[[int], str]] = {
    "[ repeated": _repeat("["),
    "![ repeated": _repeat("!["),
    "_![ repeated": _repeat("_!["),
    "![* repeated": _repeat("![*"),
    "*[ repeated": _repeat("*["),
    "[*_ repeated": _repeat("[*_"),
    "[a]( repeated": _repeat("[a]("),
    "[](< repeated": _repeat("[](<"),
    "a**b* repeated": _repeat("a**b*"),
    "*a_ repeated": _repeat("*a_"),
    "* repeated": _repeat("*"),
    "` repeated": _repeat("`"),
    "`a repeated": _repeat("`a"),
    "` runs": _backtick_runs,
    "< repeated": _repeat("<"),
    "<a repeated": _repeat("<a"),
    "<http:// repeated": _repeat("<http://"),
    "\\ repeated": _repeat("\\"),
    "&# repeated": _repeat("&#"),
    "~~a repeated": _repeat("~~a"),
    "# repeated": _repeat("#"),
    "_ repeated": _repeat("_"),
    "*_ nested": _nested_emphasis,
    "[^1] repeated": _repeat("[^1]"),
    "&amp; repeated": _repeat("&amp;"),
    "> on one line": _repeat("> "),
    "> repeated": _repeat(">"),
    "> one more a line": _growing(lambda depth: ">" * depth + " x\n"),
    "- on one line": _repeat("- "),
    "1. on one line": _repeat("1. "),
    "- indented a line": _growing(lambda depth: "  " * depth + "- [\n"),
    "[a]: b references": _repeat("[a]: b\n[a]\n"),
    "``` fences": _repeat("```\n"),
    "short lines": _repeat("a\n"),
    "long table": _long_table,
    "wide table": _wide_table,
    "one-column table": _one_column_table,
    "tables in a list": _repeat("- |a|b|\n  |-|-|\n  x\n"),
    "tables, short rows": _tables("x\n"),
    "tables, empty cells": _tables("|" * 11 + "\n"),
    "mixed": _repeat("[*_`<>!~\\&"),
}


def worst_case(name: str, size: int) -> str:
    return WORST_CASES[name](size)


def _best_ms(
    render: Callable[[str], str],
    text: str,
    repeat: int,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """The best of `repeat` renderings, by the clock; with `time.process_time`, the processor
    time of this process alone (on a machine other work keeps busy, the clock also counts the
    time the process waited for a core)."""
    best = float("inf")
    for _ in range(repeat):
        started = clock()
        render(text)
        best = min(best, clock() - started)
    return best * 1000


def members_limit() -> int:
    """The longest Markdown a member can have rendered: a summary typed, or fetched."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from newsletter.forms import SUMMARY_MAX_LENGTH
    from newsletter.links.autofill import SUMMARY_MAX_CHARS

    return max(SUMMARY_MAX_LENGTH, SUMMARY_MAX_CHARS)


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench markdown", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--large", type=int, default=100_000, help="characters (100000)")
    parser.add_argument(
        "--limit", type=int, default=0, help="characters for the target (the members' limit)"
    )
    args = parser.parse_args(argv)
    limit = args.limit or members_limit()
    from portal.markdown import render_markdown

    started_at = datetime.now(UTC)
    started = time.perf_counter()
    render_markdown("warm **up**")
    rows = []
    for name in WORST_CASES:
        row = {
            "input": name,
            "limit_ms": _best_ms(render_markdown, worst_case(name, limit), REPEAT),
        }
        if args.large:
            text = worst_case(name, args.large)
            row["large_ms"] = _best_ms(render_markdown, text, LARGE_REPEAT)
            row["large_cpu_ms"] = _best_ms(render_markdown, text, LARGE_REPEAT, time.process_time)
        row["ok"] = max(row["limit_ms"], row.get("large_ms", 0)) < TARGET_MS
        rows.append(row)
    return {
        "benchmark": "markdown",
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": machine(),
        "limit_chars": limit,
        "large_chars": args.large,
        "target_ms": TARGET_MS,
        "rows": rows,
        "ok": all(row["ok"] for row in rows),
        "seconds": round(time.perf_counter() - started, 1),
    }


def print_table(result: dict) -> None:
    limit, large = result["limit_chars"], result["large_chars"]
    print()
    header = f"{'input':<20} {f'{limit:,} ch ms':>12} {'µs/ch':>6}"
    if large:
        header += f" {f'{large:,} ch ms':>14} {'µs/ch':>6} {'cpu ms':>7}"
    print(header + "  ok")
    print("-" * (len(header) + 4))
    for row in sorted(result["rows"], key=lambda row: -row.get("large_ms", row["limit_ms"])):
        line = f"{row['input']:<20} {row['limit_ms']:12.1f} {1000 * row['limit_ms'] / limit:6.1f}"
        if large:
            line += f" {row['large_ms']:14.0f} {1000 * row['large_ms'] / large:6.1f}"
            line += f" {row['large_cpu_ms']:7.0f}"
        print(f"{line}  {'yes' if row['ok'] else 'NO'}")
    print()
    print(
        f"Target: each input under {result['target_ms']:g} ms at {limit:,} characters"
        + (f" and at {large:,}. " if large else ". ")
        + ("Met." if result["ok"] else "Missed (NO above).")
    )
    if large:
        print("cpu ms: processor time at that size, best of the same runs (not counting waits).")


def main(argv: list[str] | None = None) -> int:
    return finish("markdown", run(argv), print_table)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
