"""Reading an edition as it was posted in Discord back into an issue's parts.

Editors paste a past edition (the Markdown a Discord message shows: a starred title, the
introduction, "## Heading:" sections, items as "emoji [Title](url)" with their summary, extra
links after "Bonus:", event times as `<t:…>`, the closing) and get its sections and items back.
It reads our own rendering exactly (`newsletter.rendering`), and forgives what people typed by
hand in the old editions: a link whose URL lost its parentheses, a "Bonus:" in the middle of a
sentence, an item line with a bare URL instead of a masked link. Each such repair is a note
the editor sees; what cannot be read at all is a problem, and nothing is imported then.

Pure functions of the text: nothing here touches the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from newsletter.rendering import DISCUSS_LABEL

# Markdown escapes our renderer writes into titles and names (`markdown_text`).
_ESCAPED = re.compile(r"\\([\\`*_\[\]<>|~])")
_HEADING = re.compile(r"^ {0,3}##(?!#)\s*(?P<text>.*?)\s*$")
_TITLE = re.compile(r"^ {0,3}#(?!#)\s*(?P<text>.*?)\s*$")
# An item's first line: an emoji (any symbols, no letters), a space, then the rest.
_ITEM = re.compile(r"^(?P<emoji>[^\w\s\[\]#>*`\\(<-][^\w\s\[\]]{0,15})\s+(?P<rest>\S.*)$")
# "[Title]" then the URL: "(url)" as it should be, or the slips "url", "(url", "url)".
_LINK_TEXT = r"\[(?P<text>(?:\\.|[^\]\\\n])+)\]"
_URL = r"(?P<url>https?://(?:[^\s()<>]|\([^\s()<>]*\))+)"
_MASKED = re.compile(_LINK_TEXT + r"\(<?" + _URL + r">?\)")
_HEAD_LINK = re.compile(_LINK_TEXT + r"(?P<open>\s*\(\s*)?<?" + _URL + r">?(?P<close>\))?")
_BARE_URL = re.compile(r"https?://[^\s<>]+[^\s<>.,;:!?)\]'\"]")
_TIMESTAMP = re.compile(r"<t:(?P<seconds>-?\d{1,12})(?::[tTdDfFsSR])?>")
_ON_TIME = re.compile(r"^\s+on\s+" + _TIMESTAMP.pattern)
# The tails our renderer puts after a summary, read from the end.
_DISCUSS_TAIL = re.compile(
    r"(?:^|\s+)💬 \[" + re.escape(DISCUSS_LABEL) + r"\]\((?P<url>[^()\s]+)\)\s*$"
)
_CREDIT_TAIL = re.compile(r"(?:^|\s+)— shared by (?P<name>[^\n]+?)\s*$")
_LINKS = r"\[(?:\\.|[^\]\\\n])+\]\([^()\s]*(?:\([^()\s]*\)[^()\s]*)*\)"
_EXTRAS_TAIL = re.compile(
    r"(?:^|\s+)(?P<label>Bonus|Read): (?P<links>" + _LINKS + r"(?:, " + _LINKS + r")*)\s*$"
)
_BONUS = re.compile(r"(?:^|\s)(?P<label>Bonus|Read):\s")
_GENERIC_LINK_TEXT = {"here", "this", "link", "this link", "there"}
_SENTENCE = re.compile(r"[^.!?]*(?:[.!?]+|$)")


@dataclass
class PastedItem:
    line: int  # where it starts in the paste, for messages
    emoji: str
    title: str
    url: str
    summary: str = ""
    extra_links: list[tuple[str, str]] = field(default_factory=list)
    links_label: str = "Bonus"
    starts_at: datetime | None = None
    credit: str = ""
    compact: bool = False  # the summary followed the title on its line


@dataclass
class PastedSection:
    heading: str
    line: int
    items: list[PastedItem] = field(default_factory=list)


@dataclass
class PastedEdition:
    title: str = ""
    introduction: str = ""
    closing: str = ""
    sections: list[PastedSection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # repairs made while reading
    problems: list[str] = field(default_factory=list)  # what blocks the import

    @property
    def items(self) -> list[PastedItem]:
        return [item for section in self.sections for item in section.items]


def unescape(text: str) -> str:
    return _ESCAPED.sub(r"\1", text)


def edition_parse(text: str) -> PastedEdition:
    """Read a pasted edition. Check `problems` before using the result."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    edition = PastedEdition()
    index = _skip_blank(lines, 0)
    title = _TITLE.match(lines[index]) if index < len(lines) else None
    if title is None:
        edition.problems.append(
            "The paste must start with the edition's title line, such as "
            "“# ⭐ What happened in March 2023? ⭐”."
        )
        return edition
    edition.title = unescape(title["text"].strip().strip("⭐🌟✨").strip())
    if not edition.title:
        edition.problems.append(f"Line {index + 1}: the title line has no title.")
    body = lines[index + 1 :]
    offset = index + 2  # line number of body[0]
    first = next((n for n, line in enumerate(body) if _HEADING.match(line)), None)
    if first is None:
        edition.problems.append(
            "No section heading found: each section starts with a line such as "
            "“## Interesting papers:”."
        )
        return edition
    edition.introduction = "\n".join(body[:first]).strip()
    _read_sections(edition, body[first:], offset + first)
    if not edition.items and not edition.problems:
        edition.problems.append(
            "No items found: an item is a line such as “📰 [Title](https://…)”."
        )
    return edition


def _skip_blank(lines: list[str], index: int) -> int:
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index


def _read_sections(edition: PastedEdition, lines: list[str], first_line: int) -> None:
    """Sections, their items, and the closing after the last item."""
    section: PastedSection | None = None
    block: list[tuple[int, str]] = []  # the current item's lines
    paragraphs_after: list[tuple[int, str]] = []  # lines after a blank line in this section
    blank = False

    def flush() -> None:
        if block and section is not None:
            item = _read_item(edition, block)
            if item is not None:
                section.items.append(item)
        block.clear()

    for offset, line in enumerate(lines):
        number = first_line + offset
        heading = _HEADING.match(line)
        if heading:
            flush()
            if paragraphs_after and section is not None:
                _continue_summary(section, paragraphs_after)
            paragraphs_after = []
            name = unescape(heading["text"]).rstrip(":").strip()
            section = PastedSection(heading=name, line=number)
            edition.sections.append(section)
            blank = False
            continue
        if not line.strip():
            blank = True
            if paragraphs_after:
                paragraphs_after.append((number, line))
            continue
        if _is_item(line):
            flush()
            if paragraphs_after:
                _continue_summary(section, paragraphs_after)
                paragraphs_after = []
            block.append((number, line))
            blank = False
            continue
        if block and not blank:
            block.append((number, line))
            continue
        # After a blank line: more of the item above, or (in the last section) the closing.
        flush()
        paragraphs_after.append((number, line))
        blank = False
    flush()
    edition.closing = "\n".join(line for _, line in paragraphs_after).strip()
    for each in edition.sections:
        if not each.items:
            edition.notes.append(f"Line {each.line}: the section “{each.heading}” has no items.")


def _is_item(line: str) -> bool:
    """An item's first line: an emoji, then a link (not our own "💬 Discuss on Discord")."""
    match = _ITEM.match(line)
    if match is None or match["rest"].startswith(f"[{DISCUSS_LABEL}]"):
        return False
    if _HEAD_LINK.match(match["rest"]):
        return True
    # The old editions' line with a bare URL; a line with a masked link elsewhere is text.
    return bool(_BARE_URL.search(line)) and _MASKED.search(line) is None


def _continue_summary(section: PastedSection | None, lines: list[tuple[int, str]]) -> None:
    """Paragraphs after a blank line, before the next item: the previous item's summary goes on."""
    text = "\n".join(line for _, line in lines).strip()
    if section is None or not section.items or not text:
        return
    item = section.items[-1]
    item.summary = f"{item.summary}\n\n{text}".strip()


def _read_item(edition: PastedEdition, block: list[tuple[int, str]]) -> PastedItem | None:
    number, head = block[0]
    match = _ITEM.match(head)
    emoji, rest = match["emoji"], match["rest"]
    below = "\n".join(line for _, line in block[1:])
    link = _HEAD_LINK.match(rest)
    if link is None:
        return _read_plain_item(edition, number, emoji, rest, below)
    if not (link["open"] and link["close"]):
        edition.notes.append(
            f"Line {number}: the link of “{unescape(link['text'])}” is missing a parenthesis "
            f"around its URL; read as {link['url']}."
        )
    item = PastedItem(line=number, emoji=emoji, title=unescape(link["text"]), url=link["url"])
    after = rest[link.end() :]
    when = _ON_TIME.match(after)
    if when:
        item.starts_at = _moment(when["seconds"])
        after = after[when.end() :]
    # "([Summary tweet](url))" right after the title: an extra link.
    while (extra := re.match(r"^\s*\(\s*" + _MASKED.pattern + r"\s*\)", after)) is not None:
        item.extra_links.append((unescape(extra["text"]), extra["url"]))
        after = after[extra.end() :]
    if after.startswith(":"):
        item.compact = True
        after = after[1:]
    text = after.strip()
    if below:
        text = f"{text}\n{below}" if text else below
    _read_tails(item, text)
    return item


def _read_plain_item(edition, number: int, emoji: str, rest: str, below: str) -> PastedItem:
    """An item line without a masked link (the old editions' events): the first sentence is
    the title, the first bare URL the link."""
    text = f"{rest}\n{below}".strip()
    url = _BARE_URL.search(text)
    when = _TIMESTAMP.search(text)
    sentence = _SENTENCE.match(rest)[0].strip()
    title = _TIMESTAMP.sub("", sentence).strip()
    title = re.sub(r"\s+on\s*$", "", title.rstrip(".!?")).strip() or "Untitled"
    summary = text[len(sentence) :].strip()
    if url is not None:
        summary = summary.replace(url[0], "").strip()
    edition.notes.append(
        f"Line {number}: no [title](link) on this item; titled “{title}” after its first "
        f"sentence, linked to {url[0]}."
    )
    return PastedItem(
        line=number,
        emoji=emoji,
        title=title,
        url=url[0],
        summary=" ".join(summary.split()) if "\n\n" not in summary else summary,
        starts_at=_moment(when["seconds"]) if when else None,
    )


def _read_tails(item: PastedItem, text: str) -> None:
    """Split the text under a title into the summary and what our renderer adds after it."""
    discuss = _DISCUSS_TAIL.search(text)
    if discuss:
        text = text[: discuss.start()]
    credit = _CREDIT_TAIL.search(text)
    if credit:
        item.credit = unescape(credit["name"])
        text = text[: credit.start()]
    extras = _EXTRAS_TAIL.search(text)
    if extras:
        item.links_label = extras["label"]
        item.extra_links += [
            (unescape(link["text"]), link["url"]) for link in _MASKED.finditer(extras["links"])
        ]
        item.summary = text[: extras.start()].strip()
        return
    bonus = _BONUS.search(text)
    if bonus is None:
        item.summary = text.strip()
        return
    # Written by hand: "Bonus: Watch the talk [here](url). Code is [here](url)".
    tail = text[bonus.end() :]
    for link in _MASKED.finditer(tail):
        label = unescape(link["text"]).strip()
        if label.lower() in _GENERIC_LINK_TEXT:
            label = _sentence_around(tail, link) or label
        item.extra_links.append((label, link["url"]))
    if not item.extra_links:
        item.summary = text.strip()
        return
    item.summary = text[: bonus.start()].strip()


def _sentence_around(text: str, link: re.Match) -> str:
    """The sentence holding a link called "here", with the link read as its words."""
    start = max(text.rfind(". ", 0, link.start()), text.rfind("! ", 0, link.start()))
    start = 0 if start < 0 else start + 2
    end_match = re.search(r"[.!?](?:\s|$)", text[link.end() :])
    end = link.end() + end_match.start() if end_match else len(text)
    sentence = text[start : link.start()] + link["text"] + text[link.end() : end]
    return " ".join(unescape(sentence).split())[:300]


def _moment(seconds: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(seconds), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
