"""Text for Discord's Markdown: the one escaper, links and timestamps.

Everything we write into a message or the Markdown download that a person typed (titles,
names, event places) goes through `markdown_text`, so it reads as plain text there.
"""

from __future__ import annotations

import re
from datetime import datetime

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def markdown_text(text: str, *, break_mentions: bool = False) -> str:
    """Plain text made safe inside Markdown (link text, names): one line, specials escaped.

    `break_mentions` also puts a zero-width space after each "@", for text posted where
    Discord would otherwise ping (@everyone, a role) and `allowed_mentions` is not ours to set.
    """
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))
    return text.replace("@", "@\u200b") if break_mentions else text


def markdown_url(url: str) -> str:
    """A URL that cannot end a Markdown link early."""
    return (
        url.strip()
        .replace(" ", "%20")
        .replace("(", "%28")
        .replace(")", "%29")
        .replace("<", "%3C")
        .replace(">", "%3E")
    )


def markdown_link(text: str, url: str) -> str:
    return f"[{markdown_text(text)}]({markdown_url(url)})"


def discord_timestamp(moment: datetime, style: str = "F") -> str:
    """Discord shows `<t:UNIX:F>` in each reader's own time zone."""
    return f"<t:{int(moment.timestamp())}:{style}>"
