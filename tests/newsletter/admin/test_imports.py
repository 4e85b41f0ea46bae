"""The editors' "Import a past edition" page: paste, read, import; bad pastes explained."""

from __future__ import annotations

import pytest
from django.urls import reverse

from newsletter.models import Issue, IssueItem, Section, Submission
from tests.factories import PublishedIssueFactory, SubmissionFactory

pytestmark = pytest.mark.django_db

PAGE = reverse("admin:newsletter_issue_import")
EDITION = """# ⭐ What happened in April 2023? ⭐

Hello again.

## Interesting papers and blog posts:
📰 [A paper on sparse training](https://arxiv.org/abs/2304.00001)
Our words on sparsity.

📰 [A paper already shared](https://arxiv.org/abs/2301.00002)
Our words.

📝 [A post on kernels]https://example.org/kernels
Our words on kernels.

Thanks for reading!
"""


def html(response) -> str:
    return response.content.decode()


def form(text: str = EDITION, **extra) -> dict:
    return {"text": text, "published_at": "2023-05-02 16:00", "number": "", **extra}


def counts() -> tuple[int, int, int]:
    return Issue.objects.count(), Submission.objects.count(), IssueItem.objects.count()


def archived_paper() -> Issue:
    issue = PublishedIssueFactory(number=3)
    submission = SubmissionFactory(url="https://arxiv.org/abs/2301.00002")
    IssueItem.objects.create(
        issue=issue,
        submission=submission,
        section=Section.objects.get(slug="papers-and-posts"),
        is_published=True,
    )
    Submission.objects.filter(pk=submission.pk).update(state=Submission.State.PUBLISHED)
    return issue


def test_the_issue_list_links_to_the_import_page(editor_client):
    response = editor_client.get(reverse("admin:newsletter_issue_changelist"))
    assert f'href="{PAGE}"' in html(response)
    page = editor_client.get(PAGE)
    assert page.status_code == 200
    assert "The edition, as posted in Discord" in html(page)


def test_reading_a_paste_shows_sections_items_links_and_archive_and_writes_nothing(
    editor_client,
):
    archived_paper()
    before = counts()

    response = editor_client.post(PAGE, form(preview="Read it"))

    page = html(response)
    assert response.status_code == 200
    assert "Interesting papers and blog posts" in page
    assert 'href="https://arxiv.org/abs/2304.00001"' in page
    assert 'href="https://example.org/kernels"' in page
    assert "Already in issue #3: not imported again" in page
    assert "missing a parenthesis" in page  # the repaired link, said
    assert 'name="import"' in page
    assert counts() == before


def test_importing_publishes_the_issue_with_its_date_and_goes_to_it(editor_client):
    archived_paper()

    response = editor_client.post(PAGE, form(**{"import": "Import"}))

    issue = Issue.objects.get(title="What happened in April 2023?")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:newsletter_issue_change", args=[issue.pk])
    assert issue.state == Issue.State.PUBLISHED
    assert issue.published_at.isoformat().startswith("2023-05-02")
    assert issue.items.count() == 2
    followed = editor_client.get(response["Location"])
    assert "Nothing was sent to Discord or by email" in html(followed)


def test_a_paste_that_cannot_be_read_says_why_and_writes_nothing(editor_client):
    before = counts()

    response = editor_client.post(PAGE, form("Just some words.", **{"import": "Import"}))

    assert response.status_code == 400
    assert "must start with the edition&#x27;s title line" in html(response)
    assert 'name="import"' not in html(response)
    assert counts() == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"published_at": "2999-01-01 10:00"}, "cannot be in the future"),
        ({"published_at": "yesterday-ish"}, "Enter a valid date/time"),
        ({"text": ""}, "This field is required"),
        ({"text": "x" * 100_001}, "at most 100000 characters"),
    ],
)
def test_bad_fields_get_a_clear_message(editor_client, fields, message):
    before = counts()
    response = editor_client.post(PAGE, {**form(), "import": "Import", **fields})
    assert response.status_code == 400
    assert message in html(response)
    assert counts() == before


def test_a_taken_number_is_refused_and_nothing_written(editor_client):
    PublishedIssueFactory(number=5)
    before = counts()

    response = editor_client.post(PAGE, form(number="5", **{"import": "Import"}))

    assert response.status_code == 400
    assert "Issue #5 already exists." in html(response)
    assert counts() == before


def test_members_cannot_import(member_client):
    response = member_client.get(PAGE)
    assert response.status_code in (302, 403)
    response = member_client.post(PAGE, form(**{"import": "Import"}))
    assert response.status_code in (302, 403)
    assert not Issue.objects.exists()
