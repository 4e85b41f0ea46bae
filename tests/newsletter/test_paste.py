"""Reading an edition pasted from Discord: our own rendering exactly, and the old editions'
hand-typed slips with a note for each repair."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.paste import edition_parse
from newsletter.rendering import DocumentSection, IssueDocument, Item, document_markdown

HEAD = "# ⭐ What happened in May? ⭐\n\nHello everyone.\n\n"


def parse_one(section_text: str, head: str = HEAD):
    edition = edition_parse(head + section_text)
    assert edition.problems == []
    [section] = edition.sections
    return edition, section


# --- the layout --------------------------------------------------------------------------------


def test_parse_reads_title_introduction_sections_items_and_closing():
    edition = edition_parse(
        "# ⭐ What happened in May? ⭐\n\n"
        "Hello #channel! Two paragraphs\nof introduction.\n\nThe second one.\n\n"
        "## Papers:\n"
        "📰 [A paper](https://arxiv.org/abs/2301.00001)\n"
        "Our words about it.\n\n"
        "📝 [A post](https://example.org/post)\n"
        "More words.\n\n"
        "## Tool spotlight:\n"
        "🌼 [Tool](https://example.org/tool): A tool, in one line.\n\n"
        "Thanks for reading!\n\nKeep sharing. ❤️\n"
    )

    assert edition.problems == [] and edition.notes == []
    assert edition.title == "What happened in May?"
    assert edition.introduction == (
        "Hello #channel! Two paragraphs\nof introduction.\n\nThe second one."
    )
    assert [s.heading for s in edition.sections] == ["Papers", "Tool spotlight"]
    papers, tools = edition.sections
    assert [(i.emoji, i.title, i.url, i.summary) for i in papers.items] == [
        ("📰", "A paper", "https://arxiv.org/abs/2301.00001", "Our words about it."),
        ("📝", "A post", "https://example.org/post", "More words."),
    ]
    [tool] = tools.items
    assert (tool.title, tool.summary, tool.compact) == ("Tool", "A tool, in one line.", True)
    assert edition.closing == "Thanks for reading!\n\nKeep sharing. ❤️"


def test_parse_accepts_windows_line_endings():
    edition, section = parse_one("## Papers:\r\n📰 [A](https://example.org/a)\r\nWords.\r\n")
    assert section.items[0].summary == "Words."


def test_parse_reads_bonus_links_written_by_us():
    _, section = parse_one(
        "## Papers:\n📰 [A](https://example.org/a)\nWords. "
        "Bonus: [The talk](https://example.org/talk), [Code](https://example.org/code)\n"
    )
    [item] = section.items
    assert item.summary == "Words."
    assert item.extra_links == [
        ("The talk", "https://example.org/talk"),
        ("Code", "https://example.org/code"),
    ]


def test_parse_reads_bonus_links_written_by_hand():
    """The old editions: "Bonus: Watch the talk [here](…). Code is [here](…)"."""
    _, section = parse_one(
        "## Papers:\n📰 [A](https://example.org/a)\nWords about it. Bonus: Watch the "
        "speaker's talk [here](https://example.org/talk). Code is [here](https://example.org/c)\n"
    )
    [item] = section.items
    assert item.summary == "Words about it."
    assert item.extra_links == [
        ("Watch the speaker's talk here", "https://example.org/talk"),
        ("Code is here", "https://example.org/c"),
    ]


def test_parse_reads_a_link_in_parentheses_after_the_title():
    _, section = parse_one(
        "## Posts:\n📝 [Post](https://example.org/p) ([Summary thread](https://example.org/t))\n"
        "Words.\n"
    )
    [item] = section.items
    assert item.extra_links == [("Summary thread", "https://example.org/t")]
    assert item.summary == "Words."


def test_parse_repairs_a_url_without_parentheses_and_says_so():
    edition = edition_parse(
        HEAD + "## Papers:\n📰 [CoLT-like paper]https://arxiv.org/abs/2303.09752\nWords.\n\n"
        "📰 [Half open](https://example.org/half\nMore.\n"
    )
    assert edition.problems == []
    first, second = edition.sections[0].items
    assert (first.url, first.summary) == ("https://arxiv.org/abs/2303.09752", "Words.")
    assert (second.url, second.summary) == ("https://example.org/half", "More.")
    assert len(edition.notes) == 2
    assert "Line 6" in edition.notes[0] and "parenthesis" in edition.notes[0]


def test_parse_reads_discord_timestamps_as_event_times():
    _, section = parse_one(
        "## Events:\n🤝 [Reading group](https://example.org/paper.pdf) on <t:1681491600:F>\n"
        "We read it. Read: [The paper](https://example.org/paper.pdf)\n"
    )
    [item] = section.items
    assert item.starts_at == datetime(2023, 4, 14, 17, 0, tzinfo=UTC)
    assert item.links_label == "Read"
    assert item.extra_links == [("The paper", "https://example.org/paper.pdf")]


def test_parse_reads_an_item_line_without_a_masked_link():
    """The old editions' event line: a sentence, a timestamp and a bare URL."""
    edition = edition_parse(
        HEAD + "## Upcoming events:\n🤝 We will meet for a reading group on <t:1681491600:F>. "
        "We start with a classic: https://example.org/paper.pdf\n\nThanks for reading!\n"
    )
    assert edition.problems == []
    [item] = edition.sections[0].items
    assert item.title == "We will meet for a reading group"
    assert item.url == "https://example.org/paper.pdf"
    assert item.starts_at == datetime(2023, 4, 14, 17, 0, tzinfo=UTC)
    assert item.summary == "We start with a classic:"
    assert "no [title](link)" in edition.notes[0]
    assert edition.closing == "Thanks for reading!"


def test_parse_strips_our_credit_and_discussion_link():
    _, section = parse_one(
        "## Papers:\n📰 [A](https://example.org/a)\nWords. — shared by Ada "
        "💬 [Discuss on Discord](https://discord.com/channels/1/2)\n"
    )
    [item] = section.items
    assert (item.summary, item.credit) == ("Words.", "Ada")


def test_parse_keeps_a_second_paragraph_with_its_item_before_the_next_section():
    edition = edition_parse(
        HEAD + "## Papers:\n📰 [A](https://example.org/a)\nFirst paragraph.\n\nSecond one.\n\n"
        "📰 [B](https://example.org/b)\nB's words.\n\n## Tools:\n🌼 [T](https://example.org/t)\n"
    )
    first, second = edition.sections[0].items
    assert first.summary == "First paragraph.\n\nSecond one."
    assert second.summary == "B's words."
    assert edition.closing == ""


def test_parse_unescapes_markdown_in_titles():
    _, section = parse_one("## Papers:\n📰 [LLM.int8\\(\\): 8\\*bit \\[v2\\]](https://e.org/a)\n")
    assert section.items[0].title == "LLM.int8\\(\\): 8*bit [v2]"


# --- what cannot be read -------------------------------------------------------------------------


def test_parse_without_a_title_line_says_what_it_expects():
    edition = edition_parse("Hello!\n\n## Papers:\n📰 [A](https://example.org/a)\n")
    assert edition.problems == [
        "The paste must start with the edition's title line, such as "
        "“# ⭐ What happened in March 2023? ⭐”."
    ]


def test_parse_without_sections_or_items_says_so():
    assert "No section heading" in edition_parse("# Title\n\nJust text.\n").problems[0]
    assert "No items found" in edition_parse("# Title\n\n## Papers:\nNo links.\n").problems[0]


def test_parse_notes_a_section_without_items():
    edition = edition_parse(HEAD + "## Empty:\n\n## Papers:\n📰 [A](https://example.org/a)\n")
    assert edition.notes == ["Line 5: the section “Empty” has no items."]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_parse_never_fails_on_any_text(text):
    edition = edition_parse(text)
    assert edition.problems or edition.items


# --- the property: our own Markdown reads back as it was made ----------------------------------

WORDS = ["efficient", "training", "models", "quantised", "Attention", "memory", "GPU", "4-bit"]
word = st.sampled_from(WORDS)
# Titles: any printable text, Markdown's special characters included (they are escaped).
title = (
    st.text(
        alphabet=st.characters(
            whitelist_categories=("Lu", "Ll", "Nd", "Zs"),
            whitelist_characters="()[]*_`<>|~\\:.,!?-'",
        ),
        min_size=1,
        max_size=60,
    )
    .map(lambda t: " ".join(t.split()))
    .filter(bool)
)
url = st.builds(
    lambda host, path: f"https://{host}.org/{path}",
    st.sampled_from(["example", "arxiv", "github"]),
    st.text(alphabet="abcxyz0123456789-_/.=?&%~", max_size=30),
)
sentence = st.lists(word, min_size=1, max_size=8).map(lambda w: " ".join(w) + ".")
masked = st.builds(lambda w, u: f"[{w}]({u})", word, url)
paragraph = st.lists(st.one_of(sentence, masked), min_size=1, max_size=4).map(" ".join)
blurb = st.one_of(
    st.just(""),
    paragraph,
    st.lists(paragraph, min_size=2, max_size=3).map("\n".join),  # lines of one paragraph
)
extra_links = st.lists(st.tuples(title, url), max_size=2).map(tuple)
moment = st.integers(min_value=0, max_value=4_000_000_000).map(
    lambda s: datetime.fromtimestamp(s, tz=UTC)
)


@st.composite
def items(draw, pk: int) -> Item:
    starts_at = draw(st.one_of(st.none(), moment))
    return Item(
        pk=pk,
        kind="event" if starts_at else "paper",
        emoji=draw(st.sampled_from(["📰", "📝", "🌼", "🦙", "🤝", "🛠️", "🔗"])),
        title=draw(title),
        url=draw(url),
        blurb=draw(blurb),
        links_label="Read" if starts_at else "Bonus",
        extra_links=draw(extra_links),
        credit=draw(st.one_of(st.just(""), word.map(str.capitalize))),
        starts_at=starts_at,
        discussion_url=draw(st.sampled_from(["", "https://discord.com/channels/1/22"])),
    )


@st.composite
def documents(draw) -> IssueDocument:
    sections = []
    pk = 0
    for number in range(draw(st.integers(min_value=1, max_value=4))):
        count = draw(st.integers(min_value=1, max_value=4))
        section_items = []
        for _ in range(count):
            pk += 1
            section_items.append(draw(items(pk)))
        sections.append(
            DocumentSection(
                heading=" ".join(draw(st.lists(word, min_size=1, max_size=3))).capitalize(),
                slug=f"section-{number}",
                compact=draw(st.booleans()),
                items=tuple(section_items),
            )
        )
    return IssueDocument(
        number=1,
        title=draw(title),
        introduction=draw(st.lists(paragraph, max_size=2).map("\n\n".join)),
        closing=draw(st.lists(paragraph, max_size=2).map("\n\n".join)),
        sections=tuple(sections),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_parsing_the_markdown_of_any_issue_gives_it_back(document):
    edition = edition_parse(document_markdown(document))

    assert edition.problems == []
    assert edition.notes == []
    assert edition.title == document.title
    assert edition.introduction == document.introduction
    assert edition.closing == document.closing
    assert [s.heading for s in edition.sections] == [s.heading for s in document.sections]
    for parsed, made in zip(edition.sections, document.sections, strict=True):
        assert [
            (i.emoji, i.title, i.url, i.summary, tuple(i.extra_links), i.starts_at, i.credit)
            for i in parsed.items
        ] == [
            (
                i.emoji,
                i.title,
                i.url,
                i.blurb,
                i.extra_links,
                i.starts_at,
                i.credit,
            )
            for i in made.items
        ]
