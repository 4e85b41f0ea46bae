from django.db import migrations, models

# The archive's search generation (newsletter.models.SearchGeneration), kept by PostgreSQL
# itself: whatever writes the items (the services, the admin, a bulk update, plain SQL), the
# value changes in the same transaction. It comes from a sequence, which never goes back, so a
# rolled-back change never leaves two different archives with one value.
TRIGGERS_SQL = """
CREATE SEQUENCE IF NOT EXISTS newsletter_search_generation_seq;

CREATE OR REPLACE FUNCTION newsletter_search_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO newsletter_searchgeneration (id, value)
    VALUES (1, nextval('newsletter_search_generation_seq'))
    ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value;
    RETURN NULL;
END
$$;

CREATE TRIGGER newsletter_issueitem_search_insert AFTER INSERT ON newsletter_issueitem
FOR EACH ROW WHEN (NEW.is_published) EXECUTE FUNCTION newsletter_search_changed();

CREATE TRIGGER newsletter_issueitem_search_delete AFTER DELETE ON newsletter_issueitem
FOR EACH ROW WHEN (OLD.is_published) EXECUTE FUNCTION newsletter_search_changed();

CREATE TRIGGER newsletter_issueitem_search_update AFTER UPDATE ON newsletter_issueitem
FOR EACH ROW WHEN (
    (OLD.is_published OR NEW.is_published) AND (
        OLD.is_published IS DISTINCT FROM NEW.is_published
        OR OLD.id IS DISTINCT FROM NEW.id
        OR OLD.issue_id IS DISTINCT FROM NEW.issue_id
        OR OLD.search_vector IS DISTINCT FROM NEW.search_vector
    )
) EXECUTE FUNCTION newsletter_search_changed();

CREATE TRIGGER newsletter_issueitem_search_truncate AFTER TRUNCATE ON newsletter_issueitem
FOR EACH STATEMENT EXECUTE FUNCTION newsletter_search_changed();

CREATE TRIGGER newsletter_issue_search_update AFTER UPDATE ON newsletter_issue
FOR EACH ROW WHEN (
    OLD.state IS DISTINCT FROM NEW.state OR OLD.published_at IS DISTINCT FROM NEW.published_at
) EXECUTE FUNCTION newsletter_search_changed();

INSERT INTO newsletter_searchgeneration (id, value)
VALUES (1, nextval('newsletter_search_generation_seq'))
ON CONFLICT (id) DO NOTHING;
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS newsletter_issueitem_search_insert ON newsletter_issueitem;
DROP TRIGGER IF EXISTS newsletter_issueitem_search_delete ON newsletter_issueitem;
DROP TRIGGER IF EXISTS newsletter_issueitem_search_update ON newsletter_issueitem;
DROP TRIGGER IF EXISTS newsletter_issueitem_search_truncate ON newsletter_issueitem;
DROP TRIGGER IF EXISTS newsletter_issue_search_update ON newsletter_issue;
DROP FUNCTION IF EXISTS newsletter_search_changed();
DROP SEQUENCE IF EXISTS newsletter_search_generation_seq;
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS_SQL)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("newsletter", "0016_perf_review_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchGeneration",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("value", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
