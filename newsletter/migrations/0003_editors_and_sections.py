"""The Editors group and the default sections, which reproduce the reference edition."""

from django.db import migrations

EDITOR_PERMISSIONS = {
    "submission": ["view", "change"],
    "vote": ["view", "add", "change"],
    "activity": ["view"],
    "extralink": ["view", "change", "add", "delete"],
    "section": ["view", "add", "change"],
    "issue": ["view", "add", "change"],
    "issueitem": ["view", "add", "change", "delete"],
    "discordchannel": ["view", "add", "change"],
    "delivery": ["view", "change"],
    "deliverymessage": ["view"],
}

SECTIONS = [
    # heading, slug, emoji, kind emoji, kinds, collects events
    ("Interesting papers and blog posts", "papers-and-posts", "📰", {"paper": "📰", "blog": "📝", "talk": "🎤", "other": "🔗"}, ["paper", "blog", "talk", "other"], False),
    ("Tool spotlight", "tool-spotlight", "🌼", {}, ["tool"], False),
    ("Repo spotlight", "repo-spotlight", "🦙", {}, ["repo"], False),
    ("Upcoming events", "upcoming-events", "🤝", {}, ["event"], True),
]


def create(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    Section = apps.get_model("newsletter", "Section")

    editors, _ = Group.objects.get_or_create(name="Editors")
    for model, actions in EDITOR_PERMISSIONS.items():
        ct, _ = ContentType.objects.get_or_create(app_label="newsletter", model=model)
        for action in actions:
            perm, _ = Permission.objects.get_or_create(
                content_type=ct,
                codename=f"{action}_{model}",
                defaults={"name": f"Can {action} {model}"},
            )
            editors.permissions.add(perm)

    for position, (heading, slug, emoji, kind_emoji, kinds, events) in enumerate(SECTIONS):
        Section.objects.get_or_create(
            slug=slug,
            defaults={
                "heading": heading,
                "emoji": emoji,
                "kind_emoji": kind_emoji,
                "kinds": kinds,
                "collects_events": events,
                "position": position,
            },
        )


def remove(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Editors").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("newsletter", "0002_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create, remove)]
