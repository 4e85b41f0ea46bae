"""Recompute every stored canonical link key after the rules in canonical.py change.

    python manage.py recanonicalize          # rows made by an older CANONICAL_VERSION
    python manage.py recanonicalize --all    # every row
    python manage.py recanonicalize --dry-run

Two live submissions that the new rules say are the same link cannot both keep
it (a unique constraint guards that); such pairs are listed for an editor to
resolve and the younger one keeps its old key until then.
"""

from django.core.management.base import BaseCommand
from django.db import IntegrityError, transaction

from newsletter.links.canonical import CANONICAL_VERSION, canonical_key
from newsletter.models import Submission


class Command(BaseCommand):
    help = f"Recompute canonical link keys with the current rules (version {CANONICAL_VERSION})."

    def add_arguments(self, parser):
        parser.add_argument(
            "--all", action="store_true", help="Recompute every row, not only older ones."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change, change nothing."
        )

    def handle(self, *args, all=False, dry_run=False, **options):
        rows = Submission.objects.order_by("created_at", "pk")
        if not all:
            rows = rows.exclude(canonical_version=CANONICAL_VERSION)
        # A dry run is the real run, rolled back: it meets the same conflicts.
        with transaction.atomic():
            counts = self._recanonicalize(rows)
            transaction.set_rollback(dry_run)
        changed, unchanged, conflicts, invalid = counts
        verb = "would change" if dry_run else "changed"
        self.stdout.write(
            f"Canonical keys (rules v{CANONICAL_VERSION}): {changed} {verb}, {unchanged} unchanged, "
            f"{conflicts} conflicts, {invalid} invalid."
        )

    def _recanonicalize(self, rows) -> tuple[int, int, int, int]:
        """New keys for `rows`; a row whose key is the same is only re-stamped (unchanged)."""
        changed = unchanged = conflicts = invalid = 0
        for submission in rows.iterator(chunk_size=500):
            try:
                key = canonical_key(submission.url)
            except ValueError as exc:
                invalid += 1
                self.stderr.write(f"#{submission.pk}: {exc}")
                continue
            if key == submission.canonical_key:
                unchanged += 1
                if submission.canonical_version != CANONICAL_VERSION:
                    Submission.objects.filter(pk=submission.pk).update(
                        canonical_version=CANONICAL_VERSION
                    )
                continue
            try:
                with transaction.atomic():
                    Submission.objects.filter(pk=submission.pk).update(
                        canonical_key=key, canonical_version=CANONICAL_VERSION
                    )
            except IntegrityError:
                conflicts += 1
                other = Submission.objects.live().filter(canonical_key=key).first()
                self.stderr.write(
                    f"#{submission.pk} is now the same link as #{other.pk if other else '?'} "
                    f"({key}); kept its old key, resolve by hand."
                )
                continue
            changed += 1
        return changed, unchanged, conflicts, invalid
