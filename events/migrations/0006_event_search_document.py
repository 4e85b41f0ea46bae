from django.db import migrations

# Events are searched with the archive (newsletter/search.py). On PostgreSQL the document is a
# stored generated column with its own GIN index: matching and ranking read it instead of
# parsing every event's title and description again for each search (0005's expression index
# only found the rows). The model does not list the column; the database keeps it up to date.
COLUMN = "search_document"
INDEX = "events_event_search_document_gin"
OLD_INDEX = "events_event_search_gin"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE events_event ADD COLUMN IF NOT EXISTS {COLUMN} tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, title || ' ' || description)) "
        "STORED"
    )
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON events_event USING gin ({COLUMN})"
    )
    schema_editor.execute(f"DROP INDEX IF EXISTS {OLD_INDEX}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
    schema_editor.execute(f"ALTER TABLE events_event DROP COLUMN IF EXISTS {COLUMN}")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {OLD_INDEX} ON events_event USING gin "
        "((to_tsvector('english'::regconfig, title || ' ' || description)))"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0005_topics_event_search"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
