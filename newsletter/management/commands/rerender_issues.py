"""Render every published issue again with the current templates, after a deploy that changes
what an issue page shows (topic chips, item page links, "Discuss on Discord").

    python manage.py rerender_issues            # every published issue, oldest first
    python manage.py rerender_issues --number 3 # one issue

Not a correction: no "corrected" date, nothing is sent to Discord or by email. Each issue is
rendered in its own transaction, so a failure leaves the others done and this one as it was.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from newsletter.models import Issue
from newsletter.services.issues import issue_render


class Command(BaseCommand):
    help = "Render published issues again with the current templates (not a correction)."

    def add_arguments(self, parser):
        parser.add_argument("--number", type=int, help="Only the issue with this number.")

    def handle(self, *args, number=None, **options):
        issues = Issue.objects.filter(state=Issue.State.PUBLISHED).order_by("published_at", "pk")
        if number is not None:
            issues = issues.filter(number=number)
            if not issues.exists():
                raise CommandError(f"No published issue has the number {number}.")
        done = 0
        for issue in issues.iterator():
            with transaction.atomic():
                issue_render(issue=issue)
            done += 1
        self.stdout.write(f"Rendered {done} published issue{'s' if done != 1 else ''} again.")
