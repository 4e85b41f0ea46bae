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
