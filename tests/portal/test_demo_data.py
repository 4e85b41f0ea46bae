"""`manage.py demo_data`: the community `make run` shows, loaded without side effects."""

import io

import pytest
from django.core import mail
from django.core.management import call_command

from newsletter.models import Endorsement, Issue, Notification, Submission, Topic
from newsletter.services.submissions import submission_create, submissions_today
from portal.models import User


@pytest.mark.django_db
def test_demo_data_mails_nobody_and_leaves_members_their_daily_submissions(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo_data", stdout=io.StringIO())

    assert mail.outbox == []
    assert not Notification.objects.filter(sent_at__isnull=True).exists()
    alan = User.objects.get(email="alan@example.org")
    assert submissions_today(alan) == 0
    # The demo member can share a link straight away.
    submission_create(author=alan, url="https://example.org/first-try", kind="blog", title="T")
    assert Issue.objects.get(number=1).state == Issue.State.PUBLISHED
    # No demo name claims a role.
    assert not User.objects.filter(display_name__icontains="editor").exists()


@pytest.mark.django_db
def test_demo_data_runs_twice_without_duplicating(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo_data", stdout=io.StringIO())
    count = Submission.objects.count()
    # Two members said +1 to vLLM; the editors see it in the queue.
    assert Endorsement.objects.filter(submission__url__contains="vllm").count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo_data", stdout=io.StringIO())
    assert Submission.objects.count() == count
    assert Endorsement.objects.count() == 2
    assert mail.outbox == []


@pytest.mark.django_db
def test_demo_data_has_topics_and_tags_the_demo_issue(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo_data", stdout=io.StringIO())

    names = set(Topic.objects.values_list("name", flat=True))
    assert {"Quantisation", "Distillation", "Sparsity", "Long context", "Serving"} <= names
    issue = Issue.objects.get(number=1)
    untagged = issue.items.filter(submission__isnull=False, submission__topics__isnull=True)
    assert not untagged.exists()
    page = client.get(issue.get_absolute_url()).content.decode()
    assert '<a class="topic-chip" href="/archive/topics/quantisation/">Quantisation</a>' in page
    topic_page = client.get("/archive/topics/quantisation/")
    assert "Llama.cpp" in topic_page.content.decode()
