"""The og:image cards: processor time to draw one, with the colour emoji font and in words only.

    python -m bench cards          (or: python -m bench.cards [--repeat 5])

A card is drawn once per version and then served from the cache, so this is the cost of the
first request after an editor's change. Cards: an item of the demo's first section, a title with
emoji, an issue with its four sections, and two hostile titles at the 300-character limit (all
different emoji; ZWJ families, each drawn as one glyph). Each is drawn with the emoji images
not yet cached, median of `--repeat` draws, in processor time of this process so that other
work on the machine counts less. No database, no Redis.

Target: every card under 500 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime

from bench.common import finish, machine

TARGET_MS = 500.0
SMILEYS = "".join(chr(code) for code in (*range(0x1F600, 0x1F650), *range(0x1F680, 0x1F6C0)))
CASES = {
    "demo item": (
        "Issue #1 · 📰 Interesting papers and blog posts",
        "Unmasked Teacher: Towards Training-Efficient Video Foundation Models",
        "Efficient training · Multimodal",
    ),
    "title with emoji": (
        "Issue #12 · 🦙 Repo spotlight",
        "🔥 Llama.cpp on CPUs: 4-bit quantisation 🚀 makes 7B models run on a laptop",
        "Quantization · Sparsity · Inference",
    ),
    "issue, 4 sections": (
        "Issue #3 · 1 March 2023",
        "⭐ What happened in ML Efficiency in March 2023? ⭐",
        "📰 Interesting papers and blog posts · 🌼 Tool spotlight · 🦙 Repo spotlight · 🤝 Upcoming events",
    ),
    "300 ch, all different emoji": ("Issue #1 · 🔥 Hot", " ".join(SMILEYS)[:300], ""),
    "300 ch of ZWJ families": ("Issue #1 · 🔥 Hot", ("👨‍👩‍👧‍👦" * 60)[:300], ""),
}


def _draw_ms(cards, card, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        cards._emoji_image.cache_clear()
        cards._emoji_width.cache_clear()
        started = time.process_time()
        cards.draw(card)
        times.append(time.process_time() - started)
    return statistics.median(times) * 1000


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench cards", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--repeat", type=int, default=5, help="draws per card (5)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.test import override_settings

    from newsletter import cards

    started_at = datetime.now(UTC)
    started = time.perf_counter()
    emoji_font = cards.emoji_font_file()
    cards.draw(cards.Card(kicker="Warm 🔥", title="up", footer=""))  # load the fonts once
    rows = []
    for name, (kicker, title, footer) in CASES.items():
        card = cards.Card(kicker=kicker, title=title, footer=footer)
        row = {"card": name, "emoji_ms": _draw_ms(cards, card, args.repeat)}
        with override_settings(CARD_EMOJI_FONT=""):
            row["words_ms"] = _draw_ms(cards, card, args.repeat)
        row["ok"] = max(row["emoji_ms"], row["words_ms"]) < TARGET_MS
        rows.append(row)
    return {
        "benchmark": "cards",
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": machine(),
        "emoji_font": os.path.basename(emoji_font[0]) if emoji_font else None,
        "repeat": args.repeat,
        "target_ms": TARGET_MS,
        "rows": rows,
        "ok": all(row["ok"] for row in rows),
        "seconds": round(time.perf_counter() - started, 1),
    }


def print_table(result: dict) -> None:
    font = result["emoji_font"] or "none found: both columns in words"
    print(f"\nEmoji font: {font}. Processor ms per card, median of {result['repeat']}.\n")
    header = f"{'card':<28} {'with emoji':>11} {'words only':>11}  ok"
    print(header)
    print("-" * len(header))
    for row in result["rows"]:
        ok = "yes" if row["ok"] else "NO"
        print(f"{row['card']:<28} {row['emoji_ms']:11.1f} {row['words_ms']:11.1f}  {ok}")
    print()
    print(
        f"Target: each card under {result['target_ms']:g} ms. "
        + ("Met." if result["ok"] else "Missed (NO above).")
    )


def main(argv: list[str] | None = None) -> int:
    return finish("cards", run(argv), print_table)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
