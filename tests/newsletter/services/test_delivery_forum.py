"""Forum channels: one post (a thread) per item and one for the introduction, each once.

Each test reads what the local Discord stand-in received and what the site shows, not which
functions ran.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from newsletter.models import Delivery, DeliveryMessage, IssueItem, Submission
from newsletter.rendering import (
    issue_discord_messages,
    issue_document,
    issue_forum_posts,
    item_markdown,
    thread_name,
)
from newsletter.services.compose import issue_item_add
from newsletter.services.corrections import deliveries_correct_for_issue
from newsletter.services.delivery_run import delivery_send
from newsletter.services.issues import issue_create, issue_publish
from tests.factories import EditorFactory, SubmissionFactory
from tests.stubs.discord import discord_server, make_channel  # noqa: F401  (fixture)
from tests.workers import wait_until

Message = DeliveryMessage.State


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.DISCORD_RETRY_BACKOFF = 0.01
    settings.DISCORD_HTTP_TIMEOUT = 2.0
    settings.DISCORD_RETRY_LIMIT = 4


def publishable_issue(titles: list[str], summary: str = "Why it matters, briefly."):
    issue = issue_create(title="What happened in May", introduction="Hello @everyone!")
    for title in titles:
        submission = SubmissionFactory(
            state=Submission.State.ACCEPTED, title=title, summary=summary
        )
        issue_item_add(issue=issue, submission=submission)
    return issue


def hook_of(server, channel):
    return server.hooks[channel.webhook_id]


def thread_url(channel, thread_id: str) -> str:
    return f"https://discord.com/channels/{channel.guild_id}/{thread_id}"


# --- thread names --------------------------------------------------------------------------------


def test_thread_name_keeps_a_short_title_whole():
    assert thread_name("  Attention   is all you need ") == "Attention is all you need"


def test_thread_name_cuts_a_long_title_at_a_word_boundary():
    title = "Scaling laws " + "for very large language models " * 6
    name = thread_name(title)
    assert len(name) <= 100
    assert name.endswith("…")
    assert title.startswith(name[:-1])
    assert title[len(name) - 1] == " "  # cut before a space, not inside a word


def test_thread_name_cuts_a_title_without_spaces():
    name = thread_name("x" * 150)
    assert name == "x" * 99 + "…"


# --- publishing to a forum channel ---------------------------------------------------------------


@pytest.mark.django_db
def test_publishing_to_a_forum_opens_a_post_per_item_in_issue_order(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    titles = ["First paper", "Second paper", "A third " + "very long title word " * 8]
    issue = publishable_issue(titles)
    forum = make_channel(discord_server, name="forum", forum=True)
    plain = make_channel(discord_server, name="plain")

    with django_capture_on_commit_callbacks(execute=True):
        issue_publish(issue=issue, actor=EditorFactory())

    posted = discord_server.posted(hook_of(discord_server, forum))
    names = [m.body.get("thread_name") for m in posted]
    assert names == ["What happened in May", "First paper", "Second paper", thread_name(titles[2])]
    assert len(names[3]) <= 100
    document = issue_document(issue)
    items = [item for section in document.sections for item in section.items]
    assert [m.content for m in posted[1:]] == [item_markdown(item) for item in items]
    assert "Hello @everyone!" in posted[0].content
    assert all(m.body["allowed_mentions"] == {"parse": []} for m in posted)
    # Each post opened its own thread, and the plain channel got the usual messages.
    assert len({m.thread_id for m in posted}) == 4
    assert set(discord_server.threads) == {m.thread_id for m in posted}
    assert discord_server.contents(hook_of(discord_server, plain)) == issue_discord_messages(issue)
    assert all(
        "thread_name" not in m.body for m in discord_server.posted(hook_of(discord_server, plain))
    )

    forum.refresh_from_db()
    assert forum.guild_id == hook_of(discord_server, forum).guild_id
    rows = list(DeliveryMessage.objects.filter(delivery__channel=forum).order_by("position"))
    assert [r.thread_id for r in rows] == [m.thread_id for m in posted]
    assert [r.item_id for r in rows] == [None, *[item.pk for item in items]]


@pytest.mark.django_db
def test_the_issue_page_archive_and_markdown_link_each_item_to_its_thread(
    client,
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    issue = publishable_issue(["First paper", "Second paper"])
    forum = make_channel(discord_server, name="forum", forum=True)
    with django_capture_on_commit_callbacks(execute=True):
        issue_publish(issue=issue, actor=EditorFactory())
    forum.refresh_from_db()
    posted = discord_server.posted(hook_of(discord_server, forum))
    links = [thread_url(forum, m.thread_id) for m in posted[1:]]

    page = client.get(issue.get_absolute_url()).content.decode()
    markdown = client.get(reverse("newsletter:issue-markdown", args=[issue.number, issue.slug]))
    # The archive's lists of items (here: blog posts, the factory's kind).
    archive = client.get(reverse("newsletter:kind", args=["blog-posts"])).content.decode()

    for link in links:
        assert page.count(f'href="{link}"') == 1
        assert f'href="{link}"' in archive
    # Each item's own page links to its thread.
    for item, link in zip(issue.items.order_by("position", "id"), links, strict=True):
        own_page = client.get(item.submission.get_page_url()).content.decode()
        assert own_page.count(f'href="{link}"') == 1
    assert page.count("Discuss on Discord") == 2
    issue.refresh_from_db()
    for item in issue.items.all():
        assert "Discuss on Discord" in item.html
    text = markdown.content.decode()
    assert text == issue.body_markdown
    for link in links:
        assert text.count(f"[Discuss on Discord]({link})") == 1
    # What Discord itself receives never carries the link to its own threads.
    assert all("Discuss on Discord" not in m.content for m in discord_server.posted())


@pytest.mark.django_db
def test_an_issue_not_posted_to_a_forum_has_no_discussion_link(
    client,
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    issue = publishable_issue(["First paper"])
    make_channel(discord_server, name="plain")
    with django_capture_on_commit_callbacks(execute=True):
        issue_publish(issue=issue, actor=EditorFactory())

    issue.refresh_from_db()
    assert "Discuss on Discord" not in issue.body_html
    assert "Discuss on Discord" not in issue.body_markdown


@pytest.mark.django_db
def test_a_long_item_continues_in_its_own_thread(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
    settings,
):
    settings.DISCORD_MESSAGE_LIMIT = 300
    issue = publishable_issue(["Short one", "Long one"])
    issue.items.filter(submission__title="Long one").update(
        blurb="A sentence that goes on for a while. " * 20
    )
    forum = make_channel(discord_server, name="forum", forum=True)
    with django_capture_on_commit_callbacks(execute=True):
        issue_publish(issue=issue, actor=EditorFactory())

    posted = discord_server.posted(hook_of(discord_server, forum))
    expected = issue_forum_posts(issue, limit=300)
    assert [m.content for m in posted] == [p.content for p in expected]
    assert all(len(m.content) <= 300 for m in posted)
    opened = [m for m in posted if m.body.get("thread_name")]
    assert [m.body["thread_name"] for m in opened] == [
        "What happened in May",
        "Short one",
        "Long one",
    ]
    long_thread = opened[2].thread_id
    continued = [m for m in posted if not m.body.get("thread_name")]
    assert continued and all(m.thread_id == long_thread for m in continued)


# --- exactly once --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_forum_delivery_under_failures_opens_each_thread_once(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    issue = publishable_issue([f"Paper {n}" for n in range(6)])
    forum = make_channel(discord_server, name="forum", forum=True)
    discord_server.fail_every = 3

    with django_capture_on_commit_callbacks(execute=True):
        issue_publish(issue=issue, actor=EditorFactory())
    delivery = Delivery.objects.get(channel=forum)
    delivery_send(delivery_id=delivery.pk)  # a duplicate run finds nothing to do

    posted = discord_server.posted(hook_of(discord_server, forum))
    assert [m.body["thread_name"] for m in posted] == ["What happened in May"] + [
        f"Paper {n}" for n in range(6)
    ]
    assert discord_server.count(503) >= 2
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT


@pytest.mark.django_db
def test_a_forum_delivery_resumes_after_a_crash_without_posting_twice(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    issue = publishable_issue(["One", "Two", "Three"])
    forum = make_channel(discord_server, name="forum", forum=True)
    issue_publish(issue=issue, actor=EditorFactory())  # recorded; its run never started
    delivery = Delivery.objects.get(channel=forum)
    # A worker posted the introduction and "One", stored the answer of "Two" but died before
    # marking it sent.
    delivery.messages.filter(position__lt=2).update(
        state=Message.SENT, discord_message_id="1111", thread_id="1111"
    )
    delivery.messages.filter(position=2).update(discord_message_id="2222", thread_id="2222")
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.SENDING)

    delivery_send(delivery_id=delivery.pk)

    posted = discord_server.posted(hook_of(discord_server, forum))
    assert [m.body["thread_name"] for m in posted] == ["Three"]
    assert set(delivery.messages.values_list("state", flat=True)) == {Message.SENT}


@pytest.mark.django_db
def test_a_forum_correction_edits_each_post_in_its_thread(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    issue = publishable_issue(["One", "Two"])
    forum = make_channel(discord_server, name="forum", forum=True)
    with django_capture_on_commit_callbacks(execute=True):
        issue_publish(issue=issue, actor=EditorFactory())
    before = len(discord_server.posted())
    item = issue.items.get(submission__title="Two")
    item.blurb = "Corrected words about the second paper."
    item.save()

    with django_capture_on_commit_callbacks(execute=True):
        [(delivery, correction)] = deliveries_correct_for_issue(issue=issue)

    assert (correction.edits, correction.posts, correction.deletes) == (1, 0, 0)
    assert len(discord_server.posted()) == before  # nothing posted anew
    edits = [r for r in discord_server.requests if r.method == "PATCH"]
    row = delivery.messages.get(item=item)
    assert [r.query.get("thread_id") for r in edits] == [row.thread_id]
    visible = discord_server.visible(hook_of(discord_server, forum))
    assert [p.content for p in issue_forum_posts(issue)] == visible
    assert "Corrected words" in visible[2]


@pytest.mark.django_db
def test_a_forum_correction_keeps_each_item_in_its_own_thread(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    """An item added in the middle opens a new post; a removed item's post is deleted; no
    item takes over another's thread."""
    issue = publishable_issue(["One", "Two", "Three"])
    forum = make_channel(discord_server, name="forum", forum=True)
    with django_capture_on_commit_callbacks(execute=True):
        issue_publish(issue=issue, actor=EditorFactory())
    threads = {
        row.item.submission.title: row.thread_id
        for row in DeliveryMessage.objects.filter(item__isnull=False).select_related(
            "item__submission"
        )
    }
    issue.items.get(submission__title="Three").delete()
    inserted = SubmissionFactory(state=Submission.State.ACCEPTED, title="Between")
    first = issue.items.get(submission__title="One")
    issue.items.filter(position__gt=first.position).update(position=F("position") + 1)
    IssueItem.objects.create(
        issue=issue,
        submission=inserted,
        section=first.section,
        position=first.position + 1,
        is_published=True,
    )

    with django_capture_on_commit_callbacks(execute=True):
        [(delivery, correction)] = deliveries_correct_for_issue(issue=issue)

    assert (correction.edits, correction.posts, correction.deletes) == (0, 1, 1)
    posted = discord_server.posted(hook_of(discord_server, forum))
    assert [m.body["thread_name"] for m in posted] == [
        "What happened in May",
        "One",
        "Two",
        "Three",
        "Between",
    ]
    assert [m.deleted for m in posted] == [False, False, False, True, False]
    rows = {
        row.item.submission.title: row.thread_id
        for row in delivery.messages.filter(item__isnull=False).select_related("item__submission")
    }
    assert rows["One"] == threads["One"] and rows["Two"] == threads["Two"]
    assert rows["Between"] == posted[4].thread_id


@pytest.mark.django_db
def test_a_forum_post_that_got_no_answer_is_posted_again_and_flagged(
    discord_server,  # noqa: F811
    settings,
):
    settings.DISCORD_HTTP_TIMEOUT = 0.5
    issue = publishable_issue(["One"])
    forum = make_channel(discord_server, name="forum", forum=True)
    issue_publish(issue=issue, actor=EditorFactory())  # recorded; sent below
    delivery = Delivery.objects.get(channel=forum)
    discord_server.slow_next = 1
    discord_server.slow_seconds = 1.0

    delivery_send(delivery_id=delivery.pk)

    names = [m.body["thread_name"] for m in discord_server.posted()]
    # Discord stored the slow one, then the re-post: the duplicate editors are told of.
    assert names == ["What happened in May", "What happened in May", "One"]
    first = delivery.messages.get(position=0)
    assert first.maybe_duplicate is True
    assert first.thread_id == discord_server.posted()[1].thread_id


@pytest.mark.django_db
def test_a_forum_channel_test_message_opens_a_post(discord_server, client):  # noqa: F811
    from newsletter.services.channels import channel_send_test

    forum = make_channel(discord_server, name="forum", forum=True)
    delivery = channel_send_test(channel=forum)

    assert delivery.state == Delivery.State.SENT
    [posted] = discord_server.posted()
    assert posted.body["thread_name"].startswith("Test message from")


@pytest.mark.django_db
def test_the_stand_in_refuses_a_forum_post_without_a_thread_name(discord_server):  # noqa: F811
    from newsletter.discord.client import DiscordClient, DiscordRejected, Webhook

    forum = make_channel(discord_server, name="forum", forum=True)
    with DiscordClient() as client, pytest.raises(DiscordRejected, match="thread_name"):
        client.execute(Webhook.for_channel(forum), "No title")


@pytest.mark.django_db
def test_rendering_an_issue_reads_its_threads_in_constant_queries(
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from newsletter.services.issues import issue_render

    counts = []
    for count in (1, 3):
        issue = publishable_issue([f"Paper {n}" for n in range(count)])
        make_channel(discord_server, forum=True, name=f"forum {count}")
        with django_capture_on_commit_callbacks(execute=True):
            issue_publish(issue=issue, actor=EditorFactory())
        with CaptureQueriesContext(connection) as queries:
            from newsletter import rendering

            rendering.render_issue(issue, list(rendering.issue_items_queryset(issue)))
        counts.append(len(queries))
        Delivery.objects.all().delete()
        issue_render(issue=issue)
    assert counts[0] == counts[1]


# --- a real worker -------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_publishing_to_a_forum_through_a_real_worker(
    discord_server,  # noqa: F811
    celery_worker,
):
    """End to end: publish, Redis, a real worker, the stand-in's record, the issue page."""
    issue = publishable_issue([f"Paper {n} on efficient training" for n in range(8)])
    forum = make_channel(discord_server, name="forum", forum=True)

    issue_publish(issue=issue, actor=EditorFactory())

    wait_until(
        lambda: Delivery.objects.filter(channel=forum, state=Delivery.State.SENT).exists(),
        timeout=60,
        message="the worker did not deliver to the forum",
    )
    posted = discord_server.posted(hook_of(discord_server, forum))
    assert [m.body["thread_name"] for m in posted] == ["What happened in May"] + [
        f"Paper {n} on efficient training" for n in range(8)
    ]
    assert discord_server.count(429) == 0
    forum.refresh_from_db()
    wait_until(
        lambda: issue.items.filter(html__contains="Discuss on Discord").count() == 8,
        timeout=10,
        message="the issue's items do not link to their threads",
    )
    issue.refresh_from_db()
    for message in posted[1:]:
        assert thread_url(forum, message.thread_id) in issue.body_html
