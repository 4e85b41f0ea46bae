"""Did you mean …? When a search finds nothing, each word the archive does not contain is
replaced by the nearest word it does (`SearchWord`, the archive's words). On PostgreSQL the
pg_trgm trigram index finds it; on SQLite, which has no trigrams, Python's difflib compares it
with the stored words sharing its first letter: slower, but SQLite is for development only.
Words known in another spelling (newsletter/spelling.py) are not replaced."""

from __future__ import annotations

import difflib
import re

from django.db import connection

from .models import SearchWord
from .spelling import spellings

_LETTERS = re.compile(r"[A-Za-z]+")
_SUGGESTED_WORDS = 6
_NEAREST_SQL = f"""
SELECT word FROM {SearchWord._meta.db_table}
WHERE word %% %s ORDER BY similarity(word, %s) DESC, word LIMIT 1
"""  # noqa: S608  (the table name only)


def suggest(query: str) -> str | None:
    """The query with each word the archive lacks replaced by its nearest archive word, or
    None when every word is known (in some spelling) or nothing is near."""
    words = [w.lower() for w in _LETTERS.findall(query) if len(w) >= 3]
    words = [w for w in dict.fromkeys(words) if w not in {"and", "or"}][:_SUGGESTED_WORDS]
    if not words:
        return None
    every_spelling = {spelling for word in words for spelling in spellings(word)}
    known = set(SearchWord.objects.filter(word__in=every_spelling).values_list("word", flat=True))
    replacements = {}
    for word in words:
        if known.isdisjoint(spellings(word)):
            nearest = _nearest(word)
            if nearest and nearest != word:
                replacements[word] = nearest
    if not replacements:
        return None
    return _LETTERS.sub(lambda m: replacements.get(m.group(0).lower(), m.group(0)), query)


def _nearest(word: str) -> str | None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_NEAREST_SQL, [word, word])
            row = cursor.fetchone()
        return row[0] if row else None
    # SQLite: no trigram index; compare with the stored words of the same first letter.
    candidates = SearchWord.objects.filter(word__startswith=word[0]).values_list("word", flat=True)
    found = difflib.get_close_matches(word, list(candidates[:20000]), n=1, cutoff=0.75)
    return found[0] if found else None
