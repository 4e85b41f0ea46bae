"""`manage.py recanonicalize`: new keys after a rule change, conflicts predicted by --dry-run."""

import io

import pytest
from django.core.management import call_command

from newsletter.links.canonical import CANONICAL_VERSION, canonical_key
from newsletter.models import Submission
from tests.factories import SubmissionFactory

OLD = CANONICAL_VERSION - 1 if CANONICAL_VERSION > 1 else 0


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("recanonicalize", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def old_row(url: str, stored_key: str, **kwargs) -> Submission:
    """A row stored under older rules: its key is not what today's rules make of its link."""
    return SubmissionFactory(url=url, canonical_key=stored_key, canonical_version=OLD, **kwargs)


@pytest.mark.django_db
def test_dry_run_predicts_the_conflicts_the_real_run_meets_and_changes_nothing():
    url = "https://arxiv.org/abs/2303.16058"
    first = old_row(url, "old-rules:first")
    second = old_row("https://arxiv.org/pdf/2303.16058v2.pdf", "old-rules:second")
    assert canonical_key(first.url) == canonical_key(second.url)

    out, err = run("--dry-run")
    assert "1 would change, 0 unchanged, 1 conflicts, 0 invalid" in out
    assert f"#{second.pk} is now the same link as #{first.pk}" in err
    assert set(Submission.objects.values_list("canonical_key", flat=True)) == {
        "old-rules:first",
        "old-rules:second",
    }

    out, _ = run()
    assert "1 changed, 0 unchanged, 1 conflicts, 0 invalid" in out
    first.refresh_from_db()
    assert first.canonical_key == canonical_key(url)


@pytest.mark.django_db
def test_a_row_whose_key_stays_is_re_stamped_but_not_counted_as_changed():
    url = "https://example.org/same"
    row = old_row(url, canonical_key(url))

    out, _ = run()

    assert "0 changed, 1 unchanged, 0 conflicts" in out
    row.refresh_from_db()
    assert row.canonical_version == CANONICAL_VERSION
