"""The archive's own words, for "Did you mean …" on a search that finds nothing."""

from django.db import models


class SearchWord(models.Model):
    """A word that appears in a published issue or item (lower case, 3 to 40 letters).

    On PostgreSQL a trigram index (pg_trgm, created by migration 0012) finds the words
    nearest a misspelt one without reading the table.
    """

    word = models.CharField(max_length=40, unique=True)

    def __str__(self) -> str:
        return self.word


class SearchGeneration(models.Model):
    """One row: which version of the published items' words the archive is at.

    On PostgreSQL, triggers (migration 0017) give it a new value from a sequence whenever a
    published item is placed, changed or removed, or an issue is published or unpublished, in
    the same transaction as the change: a snapshot that sees the new value sees the change.
    Each process's search index (newsletter/search_index.py) is built at one value and used
    only while the archive is still at it. Unused on SQLite.
    """

    value = models.BigIntegerField()

    def __str__(self) -> str:
        return str(self.value)
