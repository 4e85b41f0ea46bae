"""Editors organise the community's events too: they may add, change and see events, and see
who answered (the admin shows answers read-only)."""

from django.db import migrations

EDITOR_PERMISSIONS = {
    "event": ["view", "add", "change"],
    "rsvp": ["view"],
    "reminder": ["view"],
}


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    editors, _ = Group.objects.get_or_create(name="Editors")
    for model, actions in EDITOR_PERMISSIONS.items():
        ct, _ = ContentType.objects.get_or_create(app_label="events", model=model)
        for action in actions:
            perm, _ = Permission.objects.get_or_create(
                content_type=ct,
                codename=f"{action}_{model}",
                defaults={"name": f"Can {action} {model}"},
            )
            editors.permissions.add(perm)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    editors = Group.objects.filter(name="Editors").first()
    if editors is not None:
        editors.permissions.remove(
            *editors.permissions.filter(content_type__app_label="events")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0003_event_cancellation_emailed_at_event_cancelled_at_and_more"),
        ("newsletter", "0003_editors_and_sections"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
