import io

import pytest
from django.core.management import CommandError, call_command

from newsletter.models import Issue, Topic
from tests.newsletter.issue_data import published_issue


@pytest.mark.django_db
def test_rerender_brings_new_page_parts_to_old_issues_without_a_correction():
    issue = published_issue()
    item = issue.items.exclude(submission=None).first()
    topic = Topic.objects.create(name="Sparsity", slug="sparsity")
    item.submission.topics.set([topic])  # as if added before the chips existed
    stale = Issue.objects.get(pk=issue.pk).body_html
    assert "/archive/topics/sparsity/" not in stale

    out = io.StringIO()
    call_command("rerender_issues", stdout=out)

    issue.refresh_from_db()
    assert "/archive/topics/sparsity/" in issue.body_html
    assert issue.corrected_at is None
    assert "Rendered 1 published issue again." in out.getvalue()


@pytest.mark.django_db
def test_rerender_of_an_unknown_number_says_so():
    with pytest.raises(CommandError, match="No published issue has the number 99"):
        call_command("rerender_issues", "--number", "99")
