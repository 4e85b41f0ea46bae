from django.db import migrations, models

# The archive's search generation (newsletter.models.SearchGeneration), kept by PostgreSQL
# itself: whatever writes the items (the services, the admin, a bulk update, plain SQL), the
# value changes in the same transaction. It comes from a sequence, which never goes back, so a
# rolled-back change never leaves two different archives with one value.
TRIGGERS_SQL = """
CREATE SEQUENCE IF NOT EXISTS newsletter_search_generation_seq;

CREATE OR REPLACE FUNCTION newsletter_search_bump() RETURNS void
LANGUAGE sql AS $$
    INSERT INTO newsletter_searchgeneration (id, value)
    VALUES (1, nextval('newsletter_search_generation_seq'))
    ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value;
$$;

-- Once a statement, whatever rows it wrote (the statement's transition tables say whether it
-- touched what search reads): a bulk change of 50,000 items bumps once, not 50,000 times.
CREATE OR REPLACE FUNCTION newsletter_issueitem_search_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM 1 FROM new_rows WHERE is_published LIMIT 1;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM 1 FROM old_rows WHERE is_published LIMIT 1;
    ELSE
        PERFORM 1 FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
        WHERE (o.is_published OR n.is_published) AND (
            o.id IS NULL OR n.id IS NULL
            OR o.is_published IS DISTINCT FROM n.is_published
            OR o.issue_id IS DISTINCT FROM n.issue_id
            OR o.search_vector IS DISTINCT FROM n.search_vector
        )
        LIMIT 1;
    END IF;
    IF FOUND THEN
        PERFORM newsletter_search_bump();
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION newsletter_issue_search_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE o.state IS DISTINCT FROM n.state OR o.published_at IS DISTINCT FROM n.published_at
    LIMIT 1;
    IF FOUND THEN
        PERFORM newsletter_search_bump();
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION newsletter_search_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM newsletter_search_bump();
    RETURN NULL;
END
$$;

CREATE TRIGGER newsletter_issueitem_search_insert AFTER INSERT ON newsletter_issueitem
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION newsletter_issueitem_search_changed();

CREATE TRIGGER newsletter_issueitem_search_delete AFTER DELETE ON newsletter_issueitem
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION newsletter_issueitem_search_changed();

CREATE TRIGGER newsletter_issueitem_search_update AFTER UPDATE ON newsletter_issueitem
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION newsletter_issueitem_search_changed();

CREATE TRIGGER newsletter_issueitem_search_truncate AFTER TRUNCATE ON newsletter_issueitem
FOR EACH STATEMENT EXECUTE FUNCTION newsletter_search_truncated();

CREATE TRIGGER newsletter_issue_search_update AFTER UPDATE ON newsletter_issue
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION newsletter_issue_search_changed();

SELECT newsletter_search_bump();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS newsletter_issueitem_search_insert ON newsletter_issueitem;
DROP TRIGGER IF EXISTS newsletter_issueitem_search_delete ON newsletter_issueitem;
DROP TRIGGER IF EXISTS newsletter_issueitem_search_update ON newsletter_issueitem;
DROP TRIGGER IF EXISTS newsletter_issueitem_search_truncate ON newsletter_issueitem;
DROP TRIGGER IF EXISTS newsletter_issue_search_update ON newsletter_issue;
DROP FUNCTION IF EXISTS newsletter_issueitem_search_changed();
DROP FUNCTION IF EXISTS newsletter_issue_search_changed();
DROP FUNCTION IF EXISTS newsletter_search_truncated();
DROP FUNCTION IF EXISTS newsletter_search_bump();
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
