"""Composing, publishing, scheduling and correcting issues, in the services and the admin."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from events.services import event_cancel
from newsletter import rendering
from newsletter.models import (
    Delivery,
    DiscordChannel,
    Issue,
    IssueItem,
    Kind,
    Section,
    Submission,
)
from newsletter.services.compose import (
    BLURB_MAX_LENGTH,
    issue_fill,
    issue_item_add,
    issue_item_move,
    issue_item_set_blurb,
    issue_items_reorder,
    issue_pool,
)
from newsletter.services.issues import (
    IssueError,
    issue_publish,
    issue_schedule,
    issue_unschedule,
    issues_rerender_for_author,
)
from newsletter.tasks.issues import publish_due_issues
from portal.states import IllegalTransition
from tests.factories import EditorFactory, SubmissionFactory, UserFactory
from tests.newsletter.issue_data import (
    accepted,
    draft_issue,
    items_form,
    published_event,
    published_issue,
)
from tests.workers import wait_until

pytestmark = pytest.mark.django_db


def section(slug: str) -> Section:
    return Section.objects.get(slug=slug)


def titles(issue: Issue, slug: str) -> list[str]:
    return [
        item.submission.title
        for item in issue.items.filter(section__slug=slug).order_by("position")
    ]


# --- Composing -----------------------------------------------------------------------------------


def test_issue_fill_places_the_pool_by_kind_and_adds_upcoming_events():
    paper, blog = accepted(kind=Kind.PAPER), accepted(kind=Kind.BLOG)
    tool, repo = accepted(kind=Kind.TOOL), accepted(kind=Kind.REPO)
    pending = SubmissionFactory(kind=Kind.PAPER)
    soon, later = published_event(days=10), published_event(days=100)
    issue = draft_issue()

    added = issue_fill(issue=issue)

    assert len(added) == 5
    placed = {item.submission_id or item.event_id: item.section.slug for item in issue.items.all()}
    assert placed == {
        paper.pk: "papers-and-posts",
        blog.pk: "papers-and-posts",
        tool.pk: "tool-spotlight",
        repo.pk: "repo-spotlight",
        soon.pk: "upcoming-events",
    }
    assert not issue.items.filter(submission=pending).exists()
    assert not issue.items.filter(event=later).exists()
    assert issue_fill(issue=issue) == []  # filling twice adds nothing


def test_issue_pool_holds_accepted_items_not_in_this_issue():
    placed, left_out = accepted(), accepted()
    issue = draft_issue()
    issue_item_add(issue=issue, submission=placed)

    assert list(issue_pool(issue=issue)) == [left_out]
    # Left-out items stay in the pool for the next issue once this one is published.
    issue_publish(issue=issue)
    assert list(issue_pool()) == [left_out]


def test_issue_item_move_between_sections_and_positions():
    issue = draft_issue(items=3)
    first, second, third = issue.items.order_by("position")

    issue_item_move(item=third, position=0)
    assert titles(issue, "papers-and-posts") == [
        third.submission.title,
        first.submission.title,
        second.submission.title,
    ]

    issue_item_move(item=first, section=section("tool-spotlight"))
    assert titles(issue, "tool-spotlight") == [first.submission.title]
    assert titles(issue, "papers-and-posts") == [third.submission.title, second.submission.title]
    assert list(
        issue.items.filter(section__slug="papers-and-posts")
        .values_list("position", flat=True)
        .order_by("position")
    ) == [0, 1]


def test_issue_items_reorder_sets_the_order_and_the_renderings():
    issue = draft_issue(items=3)
    a, b, c = issue.items.order_by("position")

    issue_items_reorder(
        issue=issue, section=section("papers-and-posts"), item_ids=[c.pk, a.pk, b.pk]
    )
    issue.refresh_from_db()

    expected = [c.submission.title, a.submission.title, b.submission.title]
    assert titles(issue, "papers-and-posts") == expected
    positions = [issue.body_markdown.index(title) for title in expected]
    assert positions == sorted(positions)


def test_issue_item_add_refuses_what_is_not_accepted():
    issue = draft_issue()
    pending = SubmissionFactory()

    with pytest.raises(IssueError, match="only accepted submissions"):
        issue_item_add(issue=issue, submission=pending)
    assert not issue.items.exists()


def test_issue_item_add_refuses_a_submission_published_in_another_issue():
    first = published_issue(items=1)
    submission = first.items.get().submission
    issue = draft_issue()

    with pytest.raises(IssueError, match=f"already published in issue #{first.number}"):
        issue_item_add(issue=issue, submission=submission)


def test_issue_publish_refuses_a_submission_published_meanwhile():
    submission = accepted(title="Shared twice")
    one, two = draft_issue(), draft_issue()
    issue_item_add(issue=one, submission=submission)
    issue_item_add(issue=two, submission=submission)
    issue_publish(issue=one)

    with pytest.raises(IssueError) as refused:
        issue_publish(issue=two)

    assert (
        f"“Shared twice” was already published in issue #{one.number}" in refused.value.messages[0]
    )
    two.refresh_from_db()
    assert two.state == Issue.State.DRAFT
    assert not two.items.filter(is_published=True).exists()


def test_issueitem_constraint_refuses_a_second_published_placement():
    first = published_issue(items=1)
    submission = first.items.get().submission
    other = draft_issue()

    with pytest.raises(IntegrityError), transaction.atomic():
        IssueItem.objects.create(
            issue=other,
            section=section("papers-and-posts"),
            submission=submission,
            is_published=True,
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_issue_publish_two_issues_racing_for_one_submission_publish_it_once():
    submission = accepted()
    one, two = draft_issue(), draft_issue()
    issue_item_add(issue=one, submission=submission)
    issue_item_add(issue=two, submission=submission)
    barrier = threading.Barrier(2)
    outcomes = []

    def publish(issue):
        try:
            barrier.wait()
            issue_publish(issue=issue)
            outcomes.append("published")
        except IssueError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(issue,)) for issue in (one, two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["published", "refused"]
    assert IssueItem.objects.filter(submission=submission, is_published=True).count() == 1


# --- Publishing ----------------------------------------------------------------------------------


def test_issue_publish_marks_items_moves_submissions_and_emails_submitters(
    django_capture_on_commit_callbacks,
):
    editor = EditorFactory()
    issue = draft_issue(items=2, editor=editor)
    event_item = issue_item_add(issue=issue, event=published_event())

    with django_capture_on_commit_callbacks(execute=True):
        issue_publish(issue=issue, actor=editor)
    issue.refresh_from_db()

    assert issue.state == Issue.State.PUBLISHED
    assert issue.published_at is not None and issue.published_by == editor
    assert issue.state_changed_by == editor
    assert issue.items.filter(is_published=True).count() == 3
    event_item.refresh_from_db()
    assert event_item.is_published
    submissions = Submission.objects.filter(issue_items__issue=issue)
    assert set(submissions.values_list("state", flat=True)) == {Submission.State.PUBLISHED}
    assert len(mail.outbox) == 2
    item = issue.items.filter(submission__isnull=False).first()
    assert f"{issue.get_absolute_url()}#item-{item.pk}" in mail.outbox[0].body + mail.outbox[1].body


def test_issue_publish_refuses_an_empty_issue():
    issue = draft_issue()

    with pytest.raises(IssueError, match="at least one item"):
        issue_publish(issue=issue)


def test_issue_publish_refuses_a_cancelled_event():
    issue = draft_issue(items=1)
    event = published_event(title="Called off")
    issue_item_add(issue=issue, event=event)
    event_cancel(event=event)

    with pytest.raises(IssueError, match="“Called off” is cancelled"):
        issue_publish(issue=issue)


def test_issue_publish_twice_is_refused_cleanly():
    issue = published_issue(items=1)

    issue_publish(issue=issue)  # already published: nothing happens
    with pytest.raises(IllegalTransition, match="published issue cannot become draft"):
        issue_unschedule(issue=issue)


def test_issue_publish_creates_the_discord_deliveries():
    DiscordChannel.objects.create(name="newsletter", webhook_id="1", webhook_token="secret-token")
    DiscordChannel.objects.create(name="off", webhook_id="2", webhook_token="t", active=False)
    issue = draft_issue(items=3)

    issue_publish(issue=issue)

    delivery = Delivery.objects.get()
    assert delivery.channel.name == "newsletter"
    assert delivery.issue == issue
    assert list(delivery.messages.values_list("content", flat=True)) == (
        rendering.issue_discord_messages(issue)
    )


def test_issue_schedule_needs_a_future_time():
    issue = draft_issue(items=1)

    with pytest.raises(IssueError, match="in the future"):
        issue_schedule(issue=issue, publish_at=timezone.now() - timedelta(minutes=1))
    issue.refresh_from_db()
    assert issue.state == Issue.State.DRAFT


def test_issue_schedule_and_unschedule():
    editor = EditorFactory()
    issue = draft_issue(items=1)
    when = timezone.now() + timedelta(days=1)

    issue_schedule(issue=issue, publish_at=when, actor=editor)
    issue.refresh_from_db()
    assert (issue.state, issue.publish_at, issue.state_changed_by) == (
        Issue.State.SCHEDULED,
        when,
        editor,
    )

    issue_unschedule(issue=issue, actor=editor)
    issue.refresh_from_db()
    assert (issue.state, issue.publish_at) == (Issue.State.DRAFT, None)


def test_publish_due_issues_publishes_due_issues_and_leaves_future_ones():
    due, future = draft_issue(items=1), draft_issue(items=1)
    issue_schedule(issue=due, publish_at=timezone.now() + timedelta(minutes=5))
    issue_schedule(issue=future, publish_at=timezone.now() + timedelta(hours=5))
    # Time passes: the first one's moment has come.
    Issue.objects.filter(pk=due.pk).update(publish_at=timezone.now() - timedelta(seconds=1))

    assert publish_due_issues() == [due.number]

    due.refresh_from_db()
    future.refresh_from_db()
    assert due.state == Issue.State.PUBLISHED
    assert due.published_by is None  # the system published it
    assert future.state == Issue.State.SCHEDULED
    assert publish_due_issues() == []  # a second run publishes nothing again


def test_publish_due_issues_sends_back_to_draft_what_cannot_be_published():
    issue = draft_issue(items=1)
    issue_schedule(issue=issue, publish_at=timezone.now() + timedelta(minutes=5))
    submission = issue.items.get().submission
    published_elsewhere = draft_issue()
    issue_item_add(issue=published_elsewhere, submission=submission)
    issue_publish(issue=published_elsewhere)
    Issue.objects.filter(pk=issue.pk).update(publish_at=timezone.now() - timedelta(seconds=1))

    assert publish_due_issues() == []

    issue.refresh_from_db()
    assert issue.state == Issue.State.DRAFT
    assert "already published in issue" in issue.publish_error


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_publish_due_issues_through_a_real_worker(celery_worker):
    issue = draft_issue(items=1)
    issue_schedule(issue=issue, publish_at=timezone.now() + timedelta(minutes=5))
    Issue.objects.filter(pk=issue.pk).update(publish_at=timezone.now() - timedelta(seconds=1))

    publish_due_issues.delay()

    wait_until(
        lambda: Issue.objects.filter(pk=issue.pk, state=Issue.State.PUBLISHED).exists(),
        message="the worker did not publish the due issue",
    )


# --- Corrections ---------------------------------------------------------------------------------


def test_issue_correct_shows_on_the_site_at_once(client):
    issue = published_issue(items=1)
    item = issue.items.get()
    assert "A short summary" in client.get(issue.get_absolute_url()).content.decode()

    issue_item_set_blurb(item=item, blurb="Corrected words.")

    page = client.get(issue.get_absolute_url()).content.decode()
    assert "Corrected words." in page
    assert "A short summary" not in page
    issue.refresh_from_db()
    assert issue.corrected_at is not None


def test_issue_add_item_to_published_issue_publishes_it():
    issue = published_issue(items=1)
    late = accepted()

    issue_item_add(issue=issue, submission=late)

    late.refresh_from_db()
    assert late.state == Submission.State.PUBLISHED
    assert issue.items.get(submission=late).is_published


def test_issue_item_set_blurb_refuses_one_over_the_limit():
    issue = draft_issue(items=1)
    item = issue.items.get()

    with pytest.raises(IssueError, match=f"at most {BLURB_MAX_LENGTH} characters"):
        issue_item_set_blurb(item=item, blurb="z" * (BLURB_MAX_LENGTH + 1))

    issue_item_set_blurb(item=item, blurb="z" * BLURB_MAX_LENGTH)
    assert issue.items.get().blurb == "z" * BLURB_MAX_LENGTH


def test_issue_fill_refuses_a_published_issue():
    issue = published_issue(items=1)
    accepted()

    with pytest.raises(IssueError):
        issue_fill(issue=issue)


def test_issues_rerender_for_author_follows_a_consent_change():
    author = UserFactory(display_name="Ada", credit_me=True)
    issue = draft_issue()
    issue_item_add(issue=issue, submission=accepted(author=author))
    issue_publish(issue=issue)
    issue.refresh_from_db()
    assert "Ada" in issue.body_html

    author.credit_me = False
    author.save()
    assert issues_rerender_for_author(user=author) == 1

    issue.refresh_from_db()
    assert "Ada" not in issue.body_html


# --- The admin -----------------------------------------------------------------------------------


def test_admin_issue_add_uses_the_services(editor_client):
    response = editor_client.post(
        reverse("admin:newsletter_issue_add"),
        {"number": 7, "title": "Seventh", "slug": "", "introduction": "Hi *all*", "closing": "Bye"},
    )

    assert response.status_code == 302
    issue = Issue.objects.get(number=7)
    assert issue.slug == "seventh"
    assert "<em>all</em>" in issue.body_html


def test_admin_compose_page_lists_sections_items_and_pool(editor_client):
    issue = draft_issue(items=1)
    left = accepted(title="Left in the pool")

    response = editor_client.get(reverse("admin:newsletter_issue_compose", args=[issue.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert issue.items.get().submission.title in page
    assert "Left in the pool" in page
    assert f'name="add" value="{left.pk}"' in page
    for heading in Section.objects.values_list("heading", flat=True):
        assert heading in page


def test_admin_compose_adds_from_the_pool_to_the_chosen_section(editor_client):
    issue = draft_issue()
    paper = accepted(kind=Kind.PAPER)
    url = reverse("admin:newsletter_issue_compose", args=[issue.pk])

    response = editor_client.post(
        url,
        {
            "action": "add",
            "add": [paper.pk],
            f"section-for-{paper.pk}": section("tool-spotlight").pk,
        },
    )

    assert response.status_code == 302
    assert issue.items.get().section.slug == "tool-spotlight"


def test_admin_compose_saves_order_sections_blurbs_and_removals(editor_client):
    issue = draft_issue(items=3)
    a, b, c = issue.items.order_by("position")
    papers, tools = section("papers-and-posts").pk, section("tool-spotlight").pk
    url = reverse("admin:newsletter_issue_compose", args=[issue.pk])

    editor_client.post(
        url,
        items_form(
            [
                {"id": a.pk, "ORDER": "2", "section": papers, "blurb": "New blurb"},
                {"id": b.pk, "ORDER": "1", "section": tools, "blurb": ""},
                {"id": c.pk, "ORDER": "3", "section": papers, "blurb": "", "DELETE": "on"},
            ]
        ),
    )

    assert list(issue.items.values_list("pk", "section__slug", "blurb")) == [
        (a.pk, "papers-and-posts", "New blurb"),
        (b.pk, "tool-spotlight", ""),
    ]
    c.submission.refresh_from_db()
    assert c.submission in issue_pool(issue=issue)


def test_admin_compose_moves_an_item_up(editor_client):
    issue = draft_issue(items=3)
    a, b, c = issue.items.order_by("position")
    papers = section("papers-and-posts").pk
    data = items_form(
        [
            {"id": item.pk, "ORDER": number, "section": papers, "blurb": ""}
            for number, item in enumerate((a, b, c), start=1)
        ],
        move=f"{c.pk}:up",
    )

    editor_client.post(reverse("admin:newsletter_issue_compose", args=[issue.pk]), data)

    assert list(issue.items.order_by("position").values_list("pk", flat=True)) == [a.pk, c.pk, b.pk]


def test_admin_compose_refusal_is_a_message_not_an_error(editor_client):
    issue = draft_issue()
    pending = SubmissionFactory(title="Not yet accepted")

    response = editor_client.post(
        reverse("admin:newsletter_issue_compose", args=[issue.pk]),
        {"action": "add", "add": [pending.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "only accepted submissions go in an issue" in response.content.decode()
    assert not issue.items.exists()


def test_admin_compose_adds_all_ticked_items_or_none(editor_client):
    issue = draft_issue()
    paper = accepted(kind=Kind.PAPER)
    pending = SubmissionFactory(title="Not yet accepted")

    response = editor_client.post(
        reverse("admin:newsletter_issue_compose", args=[issue.pk]),
        {"action": "add", "add": [paper.pk, pending.pk, "1.5", "x"]},
        follow=True,
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "only accepted submissions go in an issue" in page
    assert "Added" not in page
    assert not issue.items.exists()


def test_admin_compose_add_ignores_ids_that_are_no_numbers_of_ours(editor_client):
    issue = draft_issue()
    paper = accepted(kind=Kind.PAPER)
    junk = ["²", "٣", "1" * 5000, "9" * 30]

    response = editor_client.post(
        reverse("admin:newsletter_issue_compose", args=[issue.pk]),
        {"action": "add", "add": [*junk, paper.pk], "add-event": junk},
    )

    assert response.status_code == 302
    assert list(issue.items.values_list("submission", flat=True)) == [paper.pk]


def test_admin_preview_shows_the_three_outputs_with_message_lengths(editor_client, settings):
    settings.DISCORD_MESSAGE_LIMIT = 400
    issue = draft_issue(items=4)

    response = editor_client.get(reverse("admin:newsletter_issue_preview", args=[issue.pk]))

    page = response.content.decode()
    messages = rendering.issue_discord_messages(issue)
    assert len(messages) > 1
    assert "Web page" in page and "Markdown" in page
    assert f"Discord: {len(messages)} messages" in page
    for number, message in enumerate(messages, start=1):
        assert f"Message {number}: {len(message)} / 400 characters" in page
    assert "# ⭐ What happened this month? ⭐" in page

    download = editor_client.get(
        reverse("admin:newsletter_issue_preview", args=[issue.pk]), {"download": "markdown"}
    )
    assert download["Content-Type"] == "text/markdown; charset=utf-8"
    assert download.content.decode() == rendering.issue_markdown(issue)


def test_admin_publishing_publish_now_schedule_and_unschedule(editor_client):
    issue = draft_issue(items=1)
    url = reverse("admin:newsletter_issue_publishing", args=[issue.pk])

    response = editor_client.post(
        url, {"action": "schedule", "publish_at": "2001-01-01T10:00"}, follow=True
    )
    assert "in the future" in response.content.decode()

    later = timezone.localtime() + timedelta(days=2)
    editor_client.post(url, {"action": "schedule", "publish_at": later.strftime("%Y-%m-%dT%H:%M")})
    issue.refresh_from_db()
    assert issue.state == Issue.State.SCHEDULED

    editor_client.post(url, {"action": "unschedule"})
    issue.refresh_from_db()
    assert issue.state == Issue.State.DRAFT

    response = editor_client.post(url, {"action": "publish"}, follow=True)
    issue.refresh_from_db()
    assert issue.state == Issue.State.PUBLISHED
    assert f"Issue #{issue.number} is published." in response.content.decode()
    assert editor_client.get(url).status_code == 405


def test_admin_issue_pages_are_for_editors_only(member_client):
    issue = draft_issue(items=1)

    for name in ("compose", "preview"):
        response = member_client.get(reverse(f"admin:newsletter_issue_{name}", args=[issue.pk]))
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_admin_published_issue_cannot_be_deleted(editor_client):
    issue = published_issue(items=1)

    response = editor_client.post(
        reverse("admin:newsletter_issue_delete", args=[issue.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert Issue.objects.filter(pk=issue.pk).exists()


def test_admin_section_pages_load(editor_client):
    response = editor_client.get(reverse("admin:newsletter_section_changelist"))

    assert response.status_code == 200
    assert "Tool spotlight" in response.content.decode()


def test_admin_preview_of_a_published_issue_shows_what_was_published(editor_client):
    """The outside review found the preview re-rendered a published issue with today's
    sections, so it differed from the published page and from what Discord received."""
    issue = published_issue(items=2)
    section = Section.objects.get(slug="papers-and-posts")
    published_page = issue.body_html
    published_markdown = issue.body_markdown
    section.heading = "Renamed after publication"
    section.save()

    response = editor_client.get(reverse("admin:newsletter_issue_preview", args=[issue.pk]))
    page = response.content.decode()
    assert "Renamed after publication" not in page
    assert "Interesting papers and blog posts" in page
    download = editor_client.get(
        reverse("admin:newsletter_issue_preview", args=[issue.pk]), {"download": "markdown"}
    )
    assert download.content.decode() == published_markdown
    assert Issue.objects.get(pk=issue.pk).body_html == published_page
