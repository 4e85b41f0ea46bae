"""The archive's vocabulary for "Did you mean …": the words of each published issue."""

from __future__ import annotations

import re
from collections.abc import Iterable

from newsletter.models import SearchWord

# Lower-case words of 3 to 40 letters (an apostrophe or hyphen inside is kept).
WORD = re.compile(r"[a-z][a-z'-]{1,38}[a-z]")


def words_of(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def search_words_add(*, texts: Iterable[str]) -> None:
    """Remember the words of published text; a word already known is left as it is."""
    words: set[str] = set()
    for text in texts:
        words |= words_of(text)
    SearchWord.objects.bulk_create(
        [SearchWord(word=word) for word in sorted(words)], ignore_conflicts=True, batch_size=1000
    )
