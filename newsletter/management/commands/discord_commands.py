"""Register /share, "Suggest for the newsletter" and /review as the guild's commands."""

from django.core.management.base import BaseCommand, CommandError

from newsletter.interactions.commands import RegistrationFailed, commands_register


class Command(BaseCommand):
    help = (
        "Registers the Discord commands in DISCORD_GUILD_ID (a bulk overwrite, only when they "
        "differ) and prints what changed. Needs DISCORD_APPLICATION_ID and DISCORD_BOT_TOKEN."
    )

    def handle(self, *args, **options):
        try:
            changes = commands_register()
        except RegistrationFailed as exc:
            raise CommandError(str(exc)) from exc
        for label, names in (
            ("added", changes.added),
            ("changed", changes.changed),
            ("removed", changes.removed),
            ("unchanged", changes.unchanged),
        ):
            for name in names:
                self.stdout.write(f"{label}: {name}")
        if not changes.any:
            self.stdout.write("Nothing to change: the commands are up to date.")
