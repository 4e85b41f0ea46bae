"""Where the splitter may cut and where it does: the levels of breaks and what a cut at each
costs, the cuts an item forbids, and the plan of cuts for a whole text (`split.py` reads the
text into pieces)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import pairwise

# Break levels, from worst to best. `END` is the end of the text.
FORCED, GRAPHEME, WORD, CODE_LINE, SENTENCE, LINE, PARAGRAPH, ITEM, SECTION, END = range(10)
# What a cut at each level costs; the planner minimises the total with `_fill_cost`. So a cut at
# a better level wins as long as it leaves its message about two thirds full; below that a
# fuller message cut at a worse level wins (the rule of thumb editors use by hand).
_CUT_COST = {
    FORCED: 100.0,
    GRAPHEME: 20.0,
    WORD: 8.0,
    CODE_LINE: 6.0,
    SENTENCE: 5.0,
    LINE: 3.0,
    PARAGRAPH: 2.0,
    ITEM: 1.0,
    SECTION: 0.0,
    END: 0.0,
}
# One message more than the minimum is worth it only to avoid cutting between words or worse.
_EXTRA_MESSAGE_COST = 7.0


def keep_items(
    pieces: Sequence, items: Sequence[tuple[int, int, int]], reopen, close, limit: int
) -> None:
    """Forbid the cuts inside each item that fits in one message; in an item that does not,
    those inside its title and just after it. Never makes a run of glued pieces too long.

    `items` are (start, end, end of the title) in the text.
    """
    starts = [piece.start for piece in pieces]
    for item_start, item_end, title_end in items:
        first, end = bisect_left(starts, item_start), bisect_left(starts, item_end)
        after_title = bisect_left(starts, title_end, first, end)
        for last in (end - 1, after_title):
            if first < last < end and _run_fits(pieces, first, last, reopen, close, limit):
                for piece in pieces[first + 1 : last + 1]:
                    piece.glue = True
                break


def _run_fits(pieces: Sequence, first: int, last: int, reopen, close, limit: int) -> bool:
    """Whether pieces first..last, with whatever is glued to them on either side, fit in one
    message."""
    start = first
    while start and pieces[start].glue:
        start -= 1
    end = last + 1
    while end < len(pieces) and pieces[end].glue:
        end += 1
    return pieces[end - 1].end - pieces[start].start + reopen[start] + close[end] <= limit


def plan(pieces: Sequence, reopen: Sequence[int], close: Sequence[int], limit: int):
    """The cuts, as (first piece, end piece) per message.

    `pieces` have `start`, `end`, `level` (of the break before) and `glue` (no cut before);
    `reopen[i]` is what a message starting at piece i adds, `close[i]` what a message ending
    before piece i adds (fence lines).

    `reach[i]` is the furthest cut a message starting at cut i can end at. Packing greedily
    (always to `reach`) gives the fewest messages, because a message that fits still fits
    when it starts later or ends earlier (the fence lines added at a cut are never longer than
    the fence lines of the original text they replace). `needed[i]`, the greedy count from cut
    i, is therefore the minimum from i.

    A dynamic programme then chooses, for each message, among the furthest reachable cut of
    each level, minimising the cut costs plus a cost for unfilled room, and only takes a cut j
    when `needed[j]` still lets the total stay within the minimum plus one.
    """
    n = len(pieces)
    cuts = [0, *(index for index in range(1, n) if not pieces[index].glue), n]
    last = len(cuts) - 1
    # Length of a message from cut i to cut j: ends[j] - starts[i].
    starts = [pieces[cut].start - reopen[cut] for cut in cuts[:-1]]
    ends = [0, *(pieces[cut - 1].end + close[cut] for cut in cuts[1:])]

    reach = [0] * last
    j = 1
    for i in range(last):
        j = max(j, i + 1)
        while j < last and ends[j + 1] - starts[i] <= limit:
            j += 1
        reach[i] = j
    needed = [0] * (last + 1)
    for i in range(last - 1, -1, -1):
        needed[i] = 1 + needed[reach[i]]
    fewest = needed[0]
    budget = fewest + 1

    # The cuts of each level, in order, to find the furthest one within reach.
    by_level: dict[int, list[int]] = {END: [last]}
    for index in range(1, last):
        by_level.setdefault(pieces[cuts[index]].level, []).append(index)

    # best[i][k]: (cost, previous cut, previous k) for reaching cut i with k messages.
    best: list[dict[int, tuple[float, int, int]]] = [{} for _ in range(last + 1)]
    best[0][0] = (0.0, -1, -1)
    for i in range(last):
        for used, (cost, _, _) in best[i].items():
            for level, level_cuts in by_level.items():
                position = bisect_right(level_cuts, reach[i]) - 1
                if position < 0:
                    continue
                j = level_cuts[position]
                if j <= i or used + 1 + needed[j] > budget:
                    continue
                step = _CUT_COST[level]
                if j == last:
                    step += _EXTRA_MESSAGE_COST * (used + 1 - fewest)
                else:
                    step += _fill_cost(ends[j] - starts[i], limit)
                known = best[j].get(used + 1)
                if known is None or cost + step < known[0]:
                    best[j][used + 1] = (cost + step, i, used)

    used = min(best[last], key=lambda k: best[last][k][0])
    chosen = [last]
    i = last
    while i:
        _, i, used = best[i][used]
        chosen.append(i)
    chosen.reverse()
    return [(cuts[i], cuts[j]) for i, j in pairwise(chosen)]


def _fill_cost(length: int, limit: int) -> float:
    """A little for any unfilled room, a lot once a message is less than two thirds full."""
    empty = 1 - length / limit
    return 0.5 * empty + 30 * max(0.0, empty - 1 / 3)
