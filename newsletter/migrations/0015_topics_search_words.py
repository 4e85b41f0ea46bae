import re

from django.db import migrations, models

# On PostgreSQL: pg_trgm and a trigram index, so "Did you mean" finds near words without
# reading the table. SQLite has neither; its fallback compares in Python (newsletter/search.py).
TRGM_INDEX = "newsletter_searchword_trgm"
WORD = re.compile(r"[a-z][a-z'-]{1,38}[a-z]")


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON newsletter_searchword "
        "USING gin (word gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {TRGM_INDEX}")


def collect_words(apps, schema_editor):
    """The words of what is already published (later issues add theirs when published)."""
    Issue = apps.get_model("newsletter", "Issue")
    IssueItem = apps.get_model("newsletter", "IssueItem")
    SearchWord = apps.get_model("newsletter", "SearchWord")
    words: set[str] = set()
    for title, text in Issue.objects.filter(state="published").values_list(
        "title", "search_text"
    ):
        words.update(WORD.findall(f"{title} {text}".lower()))
    for title, text in IssueItem.objects.filter(is_published=True).values_list(
        "submission__title", "search_text"
    ):
        words.update(WORD.findall(f"{title or ''} {text}".lower()))
    SearchWord.objects.bulk_create(
        [SearchWord(word=word) for word in sorted(words)],
        ignore_conflicts=True,
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ('newsletter', '0014_topics_topic'),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchWord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("word", models.CharField(max_length=40, unique=True)),
            ],
        ),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
        migrations.RunPython(collect_words, migrations.RunPython.noop),
    ]
