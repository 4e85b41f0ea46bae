from django.db import migrations

# Events are searched with the archive (newsletter/search.py): on PostgreSQL through this
# expression index, which the search's WHERE clause repeats word for word.
INDEX = "events_event_search_gin"
EXPRESSION = "to_tsvector('english'::regconfig, title || ' ' || description)"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON events_event USING gin (({EXPRESSION}))"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0004_editors_manage_events"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
