"""Splitting an issue's Discord Markdown into messages that each fit Discord's content limit.

The property tests build random issues from tokens whose kind they know (words, protected
spans, grapheme clusters, code lines), so they can check the splitter against a model of
their own: where a cut is allowed, and the fewest messages those cuts allow.
"""

import bisect
import functools
import re
from dataclasses import dataclass, replace
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.discord.split import (
    Item,
    Section,
    default_limit,
    document_text,
    split_document,
    split_text,
)

# The first edition of the ML Efficiency newsletter (March 2023), trailing spaces included.
EDITION = (
    "# ⭐ What happened in ML Efficiency in March 2023? ⭐\n"
    "\n"
    "Hi #ml-efficiency! This is the first edition of the community newsletter for ml-efficiency in "
    "C4AI. We will cover interesting papers, tools, discussions in the community, and upcoming "
    "events! \n"
    "\n"
    "## Interesting papers and Blog posts:\n"
    "📰 [Unmasked Teacher: Towards Training-Efficient Video Foundation Models]"
    "(https://arxiv.org/abs/2303.16058)\n"
    "This paper proposes an efficient method for training Video Foundation Models (VFMs) by "
    "selectively aligning unmasked tokens with Image Foundation Models (IFMs). \n"
    "\n"
    "📰 [High-throughput Generative Inference of Large Language Models with a Single GPU]"
    "(https://arxiv.org/abs/2303.06865)\n"
    "FlexGen enables high-throughput generation of LLMs on a single commodity GPU by flexibly "
    "aggregating memory and computation from the GPU, CPU, and disk.\n"
    "\n"
    "📰 [Hyena Hierarchy: Towards Larger Convolutional Language Models]"
    "(https://arxiv.org/abs/2302.10866)\n"
    "Hyena is a subquadratic drop-in replacement for attention in Transformers that interleaves "
    "implicitly parametrized long convolutions and data-controlled gating.\n"
    "\n"
    "📰 [LLM.int8(): 8-bit Matrix Multiplication for Transformers at Scale]"
    "(https://arxiv.org/abs/2208.07339v2)\n"
    "This paper proposes a two-part quantization procedure called LLM.int8() for large language "
    "models that reduces GPU memory requirements for inference by half while retaining full "
    "precision performance. Bonus: Watch Tim Dettmers C4AI talk "
    "[here](https://www.youtube.com/watch?v=jyOqtw4ry2w). Code is "
    "[here](https://paperswithcode.com/paper/llm-int8-8-bit-matrix-multiplication-for)\n"
    "\n"
    "📰 [CoLT5: Faster Long-Range Transformers with Conditional Computation]"
    "https://arxiv.org/abs/2303.09752\n"
    "CoLT5 is a Transformer model that uses conditional computation to focus more on important "
    "tokens in feedforward and attention layers, allowing for more efficient processing of long "
    "documents. \n"
    "\n"
    "📝 [Modular Deep Learning](https://www.ruder.io/modular-deep-learning/) "
    "([Summary Tweet](https://twitter.com/seb_ruder/status/1628721434162765827))\n"
    "Modularity separates knowledge and reasoning abilities from domain and task-specific "
    "capabilities, enabling extension to new settings and augmenting with new abilities. Bonus: "
    "Watch Jonas Pfeiffer’s C4AI talk [here](https://www.youtube.com/watch?v=3ycETDjVzOQ).\n"
    "\n"
    "## Tool Spotlight:\n"
    "🌼 [Flower](https://flower.dev/docs/tutorial/Flower-0-What-is-FL.html): Flower is a "
    "friendly federated learning framework. Their docs are a great introduction to Federated "
    "Learning.\n"
    "\n"
    "## Repo spotlight:\n"
    "🦙 [Llama.cpp](https://github.com/ggerganov/llama.cpp): The main goal of this repo is to "
    "run the LLaMa model using 4-bit quantization on a MacBook. Bonus: "
    "[This](https://twitter.com/jeremyphoward/status/1642726595436883969) great thread from "
    "Jeremy Howard on how `mmap` enables this!\n"
    "\n"
    "## Upcoming events:\n"
    "🤝 We will have our first reading group on <t:1681491600:F>. We will be starting with the "
    "theme of Knowledge Distillation and the paper: Model Compression by Caruana et. al. "
    "https://www.cs.cornell.edu/~caruana/compression.kdd06.pdf  \n"
    "\n"
    "Thank you for reading the first edition of the C4AI ML Efficiency newsletter! We'd love to "
    "hear your feedback and suggestions! Ideally, we’d like this all to fit in a single discord "
    "message, but we run into the 2000 character limit pretty quickly.\n"
    "\n"
    "Your contributions make up the bulk of this newsletter so please keep sharing the knowledge "
    "and spreading the love! ❤️\n"
)

HEADING_LINE = re.compile(r" {0,3}#{1,6}[ \t]+\S")
FENCE_LINE = re.compile(r" {0,3}```")


def reference_issue():
    """The edition as the renderer would hand it over: preamble, sections, closing."""
    preamble, *chunks = EDITION.split("\n\n## ")
    sections = []
    for chunk in chunks:
        heading, body = chunk.split("\n", 1)
        sections.append(Section(f"## {heading}", body.strip().split("\n\n")))
    events = sections[-1]
    sections[-1] = Section(events.heading, events.items[:1])
    return sections, preamble, "\n\n".join(events.items[1:])


# --- Checks shared by the example and the property tests ---------------------------------------


def locate(source: str, messages: list[str]) -> list[tuple[int, int]]:
    """Where each message comes from in `source`, once the fence lines added at cuts are removed.

    Fails unless the messages are the source in order with nothing but whitespace dropped
    between them, and unless every added closing fence is followed by a reopening of the
    fence that was open in the source.
    """

    def open_fence_before(position: int) -> str | None:
        opener = None
        for line in source[:position].split("\n"):
            if FENCE_LINE.match(line):
                opener = None if opener else line.strip()
        return opener

    @functools.cache
    def solve(index: int, gap_start: int, reopened: bool):
        if index == len(messages):
            return () if not reopened and not source[gap_start:].strip() else None
        message = messages[index]
        if reopened:
            opener = open_fence_before(gap_start)
            if opener is None or not message.startswith(opener + "\n"):
                return None
            message = message[len(opener) + 1 :]
        bodies = [(message, False)]
        if index < len(messages) - 1 and message.endswith("\n```"):
            bodies.append((message[: -len("\n```")], True))
        gap_end = len(source) - len(source[gap_start:].lstrip())
        for body, closed in bodies:
            for start in range(gap_start, gap_end + 1):
                if source.startswith(body, start):
                    rest = solve(index + 1, start + len(body), closed)
                    if rest is not None:
                        return ((start, start + len(body)), *rest)
        return None

    spans = solve(0, 0, False)
    solve.cache_clear()
    assert spans is not None, "the messages are not the source text in order"
    return list(spans)


def check_messages(source: str, messages: list[str], limit: int) -> list[tuple[int, int]]:
    """The properties every split must have; returns the source span of each message."""
    for message in messages:
        assert 0 < len(message) <= limit
        assert message == message.strip()
        assert not HEADING_LINE.match(message.rsplit("\n", 1)[-1]), message
        fence_lines = [line for line in message.split("\n") if FENCE_LINE.match(line)]
        assert len(fence_lines) % 2 == 0, message
    return locate(source, messages)


# --- Example tests -----------------------------------------------------------------------------


def test_split_text_reference_edition_takes_two_messages():
    messages = split_text(EDITION, limit=2000)

    check_messages(EDITION, messages, 2000)
    # 3,408 characters need two messages. No section boundary allows two: the papers section
    # alone is 2,034 characters. So the cut falls between two of its items, as late as fits.
    assert len(messages) == 2
    assert messages[0].startswith("# ⭐ What happened in ML Efficiency in March 2023? ⭐")
    assert messages[0].endswith("allowing for more efficient processing of long documents.")
    assert messages[1].startswith("📝 [Modular Deep Learning](https://www.ruder.io/")


def test_split_document_reference_edition_cuts_between_items():
    sections, preamble, closing = reference_issue()

    messages = split_document(sections, limit=2000, preamble=preamble, closing=closing)

    text = document_text(sections, preamble=preamble, closing=closing)
    assert text == re.sub(r"[ \t]+\n", "\n", EDITION).strip()
    check_messages(text, messages, 2000)
    assert messages == split_text(text, limit=2000)


def test_split_document_reference_edition_cuts_between_sections_when_they_fit():
    sections, preamble, closing = reference_issue()

    messages = split_document(sections, limit=2300, preamble=preamble, closing=closing)

    assert [message.split("\n", 1)[0] for message in messages] == [
        "# ⭐ What happened in ML Efficiency in March 2023? ⭐",
        "## Tool Spotlight:",
    ]


def test_split_text_timestamp_at_the_cut_moves_whole():
    text = "Reading group on <t:1681491600:F> and again on <t:1681578000> at the usual place."
    cut_inside = text.index("<t:1681578000>") + 5

    messages = split_text(text, limit=cut_inside)

    check_messages(text, messages, cut_inside)
    assert messages[0].endswith("again on")
    assert messages[1].startswith("<t:1681578000> at")


@pytest.mark.parametrize(
    "span",
    [
        "[Hyena Hierarchy: Towards Larger Convolutional Language Models](https://arxiv.org/abs/2302.10866)",
        "[Foo (disambiguation) page](https://en.wikipedia.org/wiki/Foo_(bar))",
        "[no preview here](<https://en.wikipedia.org/wiki/Foo_(bar)>)",
        "`python -m pip install --upgrade pip`",
    ],
)
def test_split_text_span_with_spaces_at_the_cut_moves_whole(span):
    text = f"Read this, it is good: {span} today."
    limit = len(f"{span} today.")

    messages = split_text(text, limit=limit)

    check_messages(text, messages, limit)
    assert messages == ["Read this, it is good:", f"{span} today."]


def test_split_text_fence_split_closes_and_reopens_with_its_language():
    code = "\n".join(f"    total_{n} = compute({n})" for n in range(12))
    text = f"Try this:\n\n```python\ndef main():\n{code}\n```\n\nThat is all."

    messages = split_text(text, limit=150)

    spans = check_messages(text, messages, 150)
    assert len(messages) > 2
    assert messages[0].endswith("\n```")
    for message in messages[1:-1]:
        assert message.startswith("```python\n    total_")
        assert message.endswith("\n```")
    assert messages[-1].endswith("```\n\nThat is all.")
    # Cuts fall between lines of code, and the indentation survives the reopening.
    for _, end in spans[:-1]:
        assert text[end] == "\n"


def test_split_text_heading_moves_to_the_next_message_with_its_content():
    text = "Some words before the section.\n\n## Tool spotlight\nFlower is a federated framework."
    limit = text.index("Flower") + 3

    messages = split_text(text, limit=limit)

    assert messages == [
        "Some words before the section.",
        "## Tool spotlight\nFlower is a federated framework.",
    ]


TITLE_LINE = re.compile(r"\S+ \[[^\]]*\]\([^)]*\):?")
SENTENCE = "Why this paper matters to the community, in one sentence of moderate length. "


def fourteen_items(introduction: int):
    """An edition of 14 items with summaries of two to nine sentences, and an introduction of
    `introduction` characters: the shape that left titles behind for 51 of these 70 lengths."""
    summaries = [2, 3, 4, 5, 6, 7, 8, 9, 3, 4, 5, 6, 7, 8]
    items = [
        f"📰 [Paper {n}: a title of some length about efficient models]"
        f"(https://arxiv.org/abs/2303.{16000 + n})\n{(SENTENCE * size).strip()}"
        for n, size in enumerate(summaries)
    ]
    sections = [
        Section("## Interesting papers and blog posts:", items[:10]),
        Section("## Tool spotlight:", items[10:]),
    ]
    preamble = "# ⭐ What happened this month? ⭐\n\n" + ("Hello readers. " * 200)[:introduction]
    return sections, preamble.strip(), items


@pytest.mark.parametrize("introduction", range(20, 20 + 70 * 25, 25))
def test_split_document_keeps_each_title_with_its_summary(introduction):
    sections, preamble, items = fourteen_items(introduction)

    messages = split_document(sections, limit=2000, preamble=preamble, closing="Thanks!")

    check_messages(document_text(sections, preamble=preamble, closing="Thanks!"), messages, 2000)
    for message in messages:
        assert not TITLE_LINE.fullmatch(message.rsplit("\n", 1)[-1]), message[-200:]
    # Each item fits in a message, so each is in one.
    for item in items:
        assert any(item in message for message in messages), item[:40]


@pytest.mark.parametrize("introduction", range(100, 480, 20))
def test_split_document_cuts_an_item_longer_than_a_message_but_not_after_its_title(
    introduction,
):
    title = "📰 [A long read](https://example.org/long)"
    summary = " ".join(f"Sentence {n} of a summary longer than one message." for n in range(60))
    compact = Item(f"{title}: {summary}", title=title)
    sections = [Section("## Papers:", [f"{title}\n{summary}"]), Section("## Tools:", [compact])]
    preamble = ("Hello readers. " * 50)[:introduction].strip()

    messages = split_document(sections, limit=500, preamble=preamble)

    check_messages(document_text(sections, preamble=preamble), messages, 500)
    assert any(f"## Papers:\n{title}\nSentence 0 of" in message for message in messages)
    assert any(f"## Tools:\n{title}: Sentence 0 of" in message for message in messages)
    for message in messages:
        assert not message.endswith((title, f"{title}:")), message


def test_split_text_giant_word_is_cut_between_grapheme_clusters():
    clusters = ["👨\u200d👩\u200d👧", "🇫🇷", "👍🏽", "1\ufe0f\u20e3", "e\u0301"]
    text = f"Emoji: {''.join(clusters) * 30} done"

    messages = split_text(text, limit=23)

    check_messages(text, messages, 23)
    whole_clusters = re.compile("|".join(clusters))
    for message in messages[1:-1]:
        assert whole_clusters.sub("", message) == ""


@pytest.mark.parametrize(
    "cluster",
    [
        "\u0915\u094d\u0937",  # Devanagari conjunct ksha: consonant, virama, consonant
        "\u0938\u094d\u0924\u094d\u0930\u0940",  # Devanagari stri: three consonants, one vowel sign
        "\u09b8\u09cd\u09a4\u09cd\u09b0\u09c0",  # Bengali stri
        "\u0e19\u0e49\u0e33",  # Thai "water": SARA AM is a spacing mark, though a letter (Lo)
        "\u1112\u1161\u11ab",  # Hangul han as decomposed jamo (NFD): leading, vowel, trailing
        "\uff76\uff9e",  # halfwidth katakana ga: the sound mark is a modifier letter (Lm)
        "\u06cc\u200c",  # Persian yeh and the zero-width non-joiner that ends its word part
        "\u0600\u0661",  # Arabic number sign: it takes the digit after it
    ],
)
def test_split_text_giant_word_keeps_clusters_of_other_scripts_whole(cluster):
    text = f"Word: {cluster * 40} done"

    messages = split_text(text, limit=23)

    check_messages(text, messages, 23)
    for message in messages[1:-1]:
        assert message.replace(cluster, "") == ""


def test_split_text_span_longer_than_the_limit_is_cut_as_a_last_resort():
    link = f"[a very long title]({'https://example.org/' + 'x' * 300})"
    text = f"Before. {link} After."

    messages = split_text(text, limit=100)

    # Still at most 100 per message, nothing lost, and no more messages than needed.
    check_messages(text, messages, 100)
    assert len(messages) == 4


def test_split_text_whitespace_only_gives_no_messages():
    assert split_text(" \n\n \t", limit=100) == []
    assert split_document([Section("", ["  "])], limit=100) == []


def test_split_text_rejects_a_limit_below_one():
    with pytest.raises(ValueError):
        split_text("text", limit=0)


def test_split_document_limit_defaults_to_the_setting():
    sections, preamble, closing = reference_issue()

    assert split_document(sections, preamble=preamble, closing=closing) == split_document(
        sections, limit=default_limit(), preamble=preamble, closing=closing
    )


# --- Property tests ----------------------------------------------------------------------------
#
# An issue is generated as tokens. Each token knows whether a cut before it is allowed and
# what a cut there costs (fence lines), so `fewest_messages` can pack the issue greedily, which
# gives the least possible number of messages for those cuts.

LETTERS = "abcdefghijklmnopqrstuvwxyz"
CLUSTERS = [
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # family, ZWJ sequence
    "\U0001f1eb\U0001f1f7",  # flag of France
    "\U0001f44d\U0001f3fd",  # thumbs up, skin tone
    "1\ufe0f\u20e3",  # keycap one
    "\u2764\ufe0f",  # red heart with VS16
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland
    "\U0001f469\U0001f3fd\u200d\U0001f4bb",  # technologist, skin tone
    "e\u0301",  # e with a combining accent
    "\u0915\u094d\u0937",  # Devanagari conjunct ksha
    "\u1112\u1161\u11ab",  # Hangul han as decomposed jamo
    "\u0e19\u0e49\u0e33",  # Thai "water", ending in the spacing mark SARA AM
    "\uff76\uff9e",  # halfwidth katakana ga
]


@dataclass(frozen=True)
class Tok:
    text: str
    sep: str = ""  # the whitespace before it
    cut: bool = True  # whether a message may start at this token
    reopen: int = 0  # added to a message that starts here (inside a fence)
    close: int = 0  # added to a message that ends just before this token (inside a fence)
    protected: bool = False


def _vocabulary() -> list[str]:
    """Words of 1 to 8 letters; drawing one of them is much cheaper than drawing letters."""
    letters = LETTERS * 2
    return [letters[start : start + size] for size in range(1, 9) for start in range(26)]


words = st.sampled_from(_vocabulary())


@st.composite
def urls(draw):
    path = draw(words)
    shape = draw(st.sampled_from(["plain", "paren", "nested", "query"]))
    suffix = {
        "plain": "",
        "paren": f"_({draw(words)})",
        "nested": f"_({draw(words)}_(x))",
        "query": f"?q={draw(words)}&n=1",
    }[shape]
    return f"https://ex.org/{path}{suffix}"


TOKEN_KINDS = ["word"] * 20 + ["long"] * 2 + ["protected"] * 7 + ["giant"]


@st.composite
def tokens(draw, limit):
    """(kind, text); a giant word comes as the list of its grapheme clusters."""
    kind = draw(st.sampled_from(TOKEN_KINDS))
    if kind == "word":
        return "word", draw(words) + draw(st.sampled_from(["", "", "", ".", ",", "!", "?"]))
    if kind == "long":
        return "word", draw(st.text(LETTERS, min_size=9, max_size=min(50, limit // 2)))
    if kind == "giant":
        pattern = draw(st.lists(st.sampled_from([*LETTERS[:6], *CLUSTERS]), min_size=1, max_size=6))
        units, size, goal = [], 0, limit + draw(st.integers(1, limit // 2))
        while size < goal:
            units.extend(pattern)
            size += sum(map(len, pattern))
        return "giant", units
    number = draw(st.integers(1, 10**18))
    shape = draw(st.sampled_from(PROTECTED_SHAPES))
    if shape == "link":
        text = " ".join(draw(st.lists(words, min_size=1, max_size=3)))
        return "protected", f"[{text}]({draw(urls())})"
    if shape == "link-no-preview":
        return "protected", f"[{draw(words)} {draw(words)}](<{draw(urls())}>)"
    if shape == "url":
        return "protected", f"<{draw(urls())}>" if draw(st.booleans()) else draw(urls())
    if shape == "timestamp":
        style = draw(st.sampled_from(["", *(f":{s}" for s in "tTdDfFsSR")]))
        return "protected", f"<t:{number % 2_000_000_000}{style}>"
    if shape == "mention":
        return "protected", f"<{draw(st.sampled_from(['@', '@!', '@&', '#']))}{number}>"
    if shape == "custom-emoji":
        return "protected", f"<{draw(st.sampled_from(['', 'a']))}:{draw(words)}:{number}>"
    if shape == "code":
        return "protected", f"`{' '.join(draw(st.lists(words, min_size=1, max_size=3)))}`"
    if shape == "emoji":
        return "protected", draw(st.sampled_from(CLUSTERS))
    return "protected", "@everyone"


PROTECTED_SHAPES = [
    "link",
    "link-no-preview",
    "url",
    "timestamp",
    "mention",
    "custom-emoji",
    "code",
    "emoji",
    "everyone",
]


code_lines = st.builds(
    lambda indent, parts: " " * indent + " ".join(parts),
    st.sampled_from([0, 2, 4]),
    st.lists(st.text(LETTERS + "=()_:.", min_size=1, max_size=6), min_size=1, max_size=4),
)


@st.composite
def paragraphs(draw, limit) -> list[Tok]:
    """One paragraph as tokens; the first token's separator is left to the caller."""
    if draw(st.integers(0, 5)) == 0:
        opener = "```" + draw(st.sampled_from(["python", "py", "js", "sh", ""]))
        lines = draw(st.lists(code_lines, min_size=1, max_size=6))
        code = [
            Tok(line, "\n", cut=bool(n), reopen=len(opener) + 1, close=4 * bool(n))
            for n, line in enumerate(lines)
        ]
        return [Tok(opener), *code, Tok("```", "\n", cut=False)]
    result = []
    for kind, value in draw(st.lists(tokens(limit), min_size=1, max_size=12)):
        sep = draw(st.sampled_from([" "] * 6 + ["\n"])) if result else ""
        if kind == "giant":
            result.extend(Tok(unit, sep if n == 0 else "") for n, unit in enumerate(value))
        else:
            result.append(Tok(value, sep, protected=kind == "protected"))
    return result


def lead(toks: list[Tok], sep: str, cut: bool) -> list[Tok]:
    return [replace(toks[0], sep=sep, cut=cut), *toks[1:]]


def text_of(toks: list[Tok]) -> str:
    return "".join(tok.sep + tok.text for tok in toks)


@st.composite
def blocks(draw, limit, *, prose_first: bool = False) -> list[Tok]:
    """A preamble, a summary or a closing: paragraphs separated by blank lines."""
    result = []
    for paragraph in draw(st.lists(paragraphs(limit), min_size=1, max_size=2)):
        if prose_first and not result and paragraph[0].text.startswith("```"):
            paragraph = [Tok("Code:"), Tok(paragraph[0].text, "\n\n"), *paragraph[1:]]
        result.extend(lead(paragraph, "\n\n", True) if result else paragraph)
    return result


@st.composite
def titles(draw) -> list[Tok]:
    """An item's title line as the renderer writes it: "📰 [Title](url)", an event's time."""
    text = " ".join(draw(st.lists(words, min_size=1, max_size=4)))
    title = [
        Tok(draw(st.sampled_from(["📰", "📝", "🌼", "🤝"]))),
        Tok(f"[{text}]({draw(urls())})", " ", protected=True),
    ]
    if draw(st.integers(0, 3)) == 0:
        moment = draw(st.integers(10**9, 2 * 10**9))
        title += [Tok("on", " "), Tok(f"<t:{moment}:F>", " ", protected=True)]
    return title


@st.composite
def items(draw, limit) -> tuple[list[Tok], int]:
    """An item's tokens (its title, then its summary) and how many make its title.

    Below the title as in most sections, or after it on the same line as in a compact one."""
    title = draw(titles())
    if draw(st.booleans()):
        return [*title, *lead(draw(blocks(limit)), "\n", True)], len(title)
    title[-1] = replace(title[-1], text=title[-1].text + ":")
    return [*title, *lead(draw(blocks(limit, prose_first=True)), " ", True)], len(title)


def keep_items(toks: list[Tok], spans: list[tuple[int, int, int]], limit: int) -> None:
    """The rule for items, on the model: no cut inside an item that fits in one message with
    what is glued to it (its heading); else none inside its title or just after it.

    `spans` are (first token, first token after the title, end) of each item."""
    positions_ = positions(toks)

    def fits(first: int, last: int) -> bool:
        start, end = first, last + 1
        while start and not toks[start].cut:
            start -= 1
        while end < len(toks) and not toks[end].cut:
            end += 1
        close = toks[end].close if end < len(toks) else 0
        return positions_[end - 1][1] - positions_[start][0] + toks[start].reopen + close <= limit

    for first, body, end in spans:
        for last in (end - 1, body):
            if first < last < end and fits(first, last):
                toks[first + 1 : last + 1] = [
                    replace(t, cut=False) for t in toks[first + 1 : last + 1]
                ]
                break


@st.composite
def issues(draw):
    limit = draw(st.one_of(st.integers(100, 300), st.integers(300, 2000)))
    toks: list[Tok] = []

    def add(block: list[Tok], sep: str, cut: bool = True) -> str:
        toks.extend(lead(block, sep if toks else "", cut))
        return text_of(lead(block, "", True))

    preamble = add(draw(blocks(limit)), "\n\n") if draw(st.booleans()) else ""
    sections = []
    item_spans: list[tuple[int, int, int]] = []
    for _ in range(draw(st.integers(0, 3))):
        hashes = draw(st.sampled_from(["#", "##", "###"]))
        heading = [
            Tok(hashes),
            *(Tok(w, " ", cut=False) for w in draw(st.lists(words, min_size=1, max_size=3))),
        ]
        add(heading, "\n\n")
        section_items = []
        for n in range(draw(st.integers(1, 3))):
            item, title_length = draw(items(limit))
            first = len(toks)
            text = add(item, "\n\n" if n else "\n", cut=bool(n))
            item_spans.append((first, first + title_length, len(toks)))
            # A plain string's title is its first line; a compact item's is given.
            compact = item[title_length].sep == " "
            title = text_of(lead(item[:title_length], "", True))
            section_items.append(Item(text, title=title) if compact else text)
        sections.append(Section(text_of(lead(heading, "", True)), section_items))
    closing = add(draw(blocks(limit)), "\n\n") if draw(st.booleans()) else ""
    plain = list(toks)  # free text (split_text) has no items to keep whole
    keep_items(toks, item_spans, limit)
    return limit, sections, preamble, closing, toks, plain


def positions(toks: list[Tok]) -> list[tuple[int, int]]:
    spans, position = [], 0
    for tok in toks:
        position += len(tok.sep)
        spans.append((position, position + len(tok.text)))
        position += len(tok.text)
    return spans


def fewest_messages(toks: list[Tok], limit: int) -> int:
    """Greedy packing: always end a message at the furthest allowed cut that fits."""
    spans = positions(toks)
    count, first = 0, 0
    while first < len(toks):
        end = None
        for after in range(first + 1, len(toks) + 1):
            if after < len(toks) and not toks[after].cut:
                continue
            close = toks[after].close if after < len(toks) else 0
            if spans[after - 1][1] - spans[first][0] + toks[first].reopen + close > limit:
                break
            end = after
        assert end is not None, "generated a token run that cannot fit"
        count, first = count + 1, end
    return count


def check_split(source: str, toks: list[Tok], messages: list[str], limit: int) -> None:
    spans = check_messages(source, messages, limit)
    # No token is cut: a cut falls only in the whitespace between tokens.
    token_spans = positions(toks)
    starts = [start for start, _ in token_spans]
    for (_, end), (start, _) in pairwise(spans):
        for edge in (end, start):
            index = bisect.bisect_right(starts, edge) - 1
            if index >= 0:
                assert not token_spans[index][0] < edge < token_spans[index][1], toks[index]
    # A message starts only where the model allows a cut.
    for start, _ in spans[1:]:
        index = bisect.bisect_left(starts, start)
        assert index < len(toks) and starts[index] == start and toks[index].cut, toks[index]
    for tok in toks:
        if tok.protected:
            assert any(tok.text in message for message in messages), tok.text
    assert len(messages) <= fewest_messages(toks, limit) + 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(issues())
def test_split_document_random_issues_keep_every_rule(issue):
    """Every rule, and items: one that fits in a message is never cut, and a title never ends
    a message unless the title and the start of its summary cannot fit in one together."""
    limit, sections, preamble, closing, toks, plain = issue
    source = document_text(sections, preamble=preamble, closing=closing)
    assert source == text_of(toks)

    check_split(
        source,
        toks,
        split_document(sections, limit=limit, preamble=preamble, closing=closing),
        limit,
    )
    check_split(source, plain, split_text(source, limit=limit), limit)
