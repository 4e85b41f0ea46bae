"""The editors' Discord pages in the admin: channels, tests and checks, delivery progress."""

from __future__ import annotations

import pytest
from django.urls import reverse

from newsletter.models import Delivery, DeliveryMessage, DiscordChannel
from tests.factories import PublishedIssueFactory
from tests.stubs.discord import discord_server, make_channel  # noqa: F401  (fixture)

Message = DeliveryMessage.State


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.DISCORD_RETRY_BACKOFF = 0.01
    settings.DISCORD_HTTP_TIMEOUT = 2.0


def channel_form(**fields) -> dict:
    data = {
        "name": "news",
        "webhook_url": "",
        "thread_id": "",
        "username": "",
        "avatar_url": "",
        "active": "on",
        "receives_issues": "on",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


# --- channels ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_adding_a_channel_parses_the_webhook_url_and_never_shows_the_token(
    editor_client,
    discord_server,  # noqa: F811
):
    hook = discord_server.create_webhook()
    url = discord_server.webhook_url(hook, host="canary.discordapp.com", version="v10")

    response = editor_client.post(
        reverse("admin:newsletter_discordchannel_add"), channel_form(webhook_url=url), follow=True
    )

    assert response.status_code == 200
    channel = DiscordChannel.objects.get()
    assert (channel.webhook_id, channel.webhook_token) == (hook.id, hook.token)
    page = editor_client.get(reverse("admin:newsletter_discordchannel_change", args=[channel.pk]))
    listing = editor_client.get(reverse("admin:newsletter_discordchannel_changelist"))
    for html in (response.content.decode(), page.content.decode(), listing.content.decode()):
        assert hook.token not in html
    assert f"token …{hook.token[-4:]}" in page.content.decode()


@pytest.mark.django_db
def test_a_url_that_is_not_a_discord_webhook_is_refused_clearly(editor_client):
    secret = "https://discord.com.evil.example/api/webhooks/1087423945128562718/" + "s" * 68

    response = editor_client.post(
        reverse("admin:newsletter_discordchannel_add"), channel_form(webhook_url=secret)
    )

    assert response.status_code == 200
    assert "This address is not on discord.com." in response.content.decode()
    assert "s" * 68 not in response.content.decode()
    assert not DiscordChannel.objects.exists()


@pytest.mark.django_db
def test_a_new_channel_needs_a_webhook_url(editor_client):
    response = editor_client.post(reverse("admin:newsletter_discordchannel_add"), channel_form())

    assert "This field is required." in response.content.decode()
    assert not DiscordChannel.objects.exists()


@pytest.mark.django_db
def test_the_same_webhook_twice_is_refused(editor_client, discord_server):  # noqa: F811
    existing = make_channel(discord_server, name="first")
    hook = discord_server.hooks[existing.webhook_id]

    response = editor_client.post(
        reverse("admin:newsletter_discordchannel_add"),
        channel_form(name="second", webhook_url=discord_server.webhook_url(hook)),
    )

    assert "The channel “first” already posts with this webhook." in response.content.decode()
    assert DiscordChannel.objects.count() == 1


@pytest.mark.django_db
def test_saving_without_a_url_keeps_the_webhook_and_reactivates(
    editor_client,
    discord_server,  # noqa: F811
):
    channel = make_channel(discord_server, active=False, deactivated_reason="Webhook deleted.")
    token = channel.webhook_token

    editor_client.post(
        reverse("admin:newsletter_discordchannel_change", args=[channel.pk]),
        channel_form(name="renamed"),
    )

    channel.refresh_from_db()
    assert (channel.name, channel.webhook_token, channel.active) == ("renamed", token, True)
    assert channel.deactivated_reason == ""


@pytest.mark.django_db
def test_send_a_test_message_tells_the_editor_at_once(editor_client, discord_server):  # noqa: F811
    channel = make_channel(discord_server, name="news")

    response = editor_client.post(
        reverse("admin:newsletter_discordchannel_test", args=[channel.pk]), follow=True
    )

    assert "“news”: test message posted." in response.content.decode()
    [content] = discord_server.contents()
    assert content.startswith("Test message from ")


@pytest.mark.django_db
def test_a_test_message_to_a_deleted_webhook_explains_and_switches_off(
    editor_client,
    discord_server,  # noqa: F811
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    channel = make_channel(discord_server, name="news")
    discord_server.delete_webhook(discord_server.hooks[channel.webhook_id])

    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            reverse("admin:newsletter_discordchannel_test", args=[channel.pk]), follow=True
        )

    html = response.content.decode()
    assert "“news”: the test message failed." in html
    assert "Discord no longer knows this webhook" in html
    channel.refresh_from_db()
    assert channel.active is False
    assert len(mailoutbox) == 1
    listing = editor_client.get(reverse("admin:newsletter_discordchannel_changelist"))
    assert "is switched off: Discord no longer knows this webhook" in listing.content.decode()


@pytest.mark.django_db
def test_check_reports_what_discord_knows(editor_client, discord_server):  # noqa: F811
    channel = make_channel(discord_server, name="news")

    response = editor_client.post(
        reverse("admin:newsletter_discordchannel_check", args=[channel.pk]), follow=True
    )

    assert "“news” works. Discord knows this webhook as “Newsletter”" in response.content.decode()
    assert (
        editor_client.get(
            reverse("admin:newsletter_discordchannel_check", args=[channel.pk])
        ).status_code
        == 405
    )


@pytest.mark.django_db
def test_check_with_a_wrong_token_says_it_does_not_work(editor_client, discord_server):  # noqa: F811
    channel = make_channel(discord_server, name="news")
    DiscordChannel.objects.filter(pk=channel.pk).update(webhook_token="w" * 68)

    response = editor_client.post(
        reverse("admin:newsletter_discordchannel_check", args=[channel.pk]), follow=True
    )

    html = response.content.decode()
    assert "“news” does not work." in html
    assert "w" * 68 not in html


@pytest.mark.django_db
def test_list_actions_test_and_check_selected_channels(editor_client, discord_server):  # noqa: F811
    first = make_channel(discord_server, name="first")
    second = make_channel(discord_server, name="second")
    url = reverse("admin:newsletter_discordchannel_changelist")

    tested = editor_client.post(
        url, {"action": "send_test_message", "_selected_action": [first.pk, second.pk]}, follow=True
    )
    checked = editor_client.post(
        url, {"action": "check_webhook", "_selected_action": [first.pk]}, follow=True
    )

    assert len(discord_server.contents()) == 2
    assert "“second”: test message posted." in tested.content.decode()
    assert "“first” works." in checked.content.decode()


@pytest.mark.django_db
def test_members_cannot_reach_the_channel_pages(member_client, discord_server):  # noqa: F811
    channel = make_channel(discord_server)

    response = member_client.post(
        reverse("admin:newsletter_discordchannel_test", args=[channel.pk])
    )

    assert response.status_code == 302
    assert discord_server.contents() == []


# --- deliveries ----------------------------------------------------------------------------------


def delivery_with(channel, states: list[str], key="issue:x", issue=None, error=""):
    delivery = Delivery.objects.create(channel=channel, key=key, issue=issue, last_error=error)
    DeliveryMessage.objects.bulk_create(
        DeliveryMessage(
            delivery=delivery,
            position=n,
            content=f"message {n}",
            state=state,
            discord_message_id=str(1000 + n) if state == Message.SENT else "",
        )
        for n, state in enumerate(states)
    )
    return delivery


@pytest.mark.django_db
def test_delivery_list_shows_progress_and_errors(editor_client, discord_server):  # noqa: F811
    channel = make_channel(discord_server, name="news")
    issue = PublishedIssueFactory(number=7, title="March")
    delivery_with(
        channel,
        [Message.SENT, Message.SENT, Message.FAILED],
        issue=issue,
        error="Message 3 of 3: Discord refused the message: 400 Invalid Form Body.",
    )

    response = editor_client.get(reverse("admin:newsletter_delivery_changelist"))

    html = response.content.decode()
    assert '<progress value="2" max="3" aria-label="2 of 3 messages sent">' in html
    assert "2 of 3 sent" in html
    assert "Issue #7 March" in html
    assert "Message 3 of 3: Discord refused the message: 400 Invalid Form Body." in html


@pytest.mark.django_db
def test_delivery_list_says_a_delivery_waits_for_the_one_before_it(editor_client, discord_server):  # noqa: F811
    channel = make_channel(discord_server, name="news")
    delivery_with(channel, [Message.SENT, Message.PENDING], key="issue:1")
    delivery_with(channel, [Message.PENDING], key="issue:2")

    html = editor_client.get(reverse("admin:newsletter_delivery_changelist")).content.decode()

    assert html.count("Waiting for the delivery before it to this channel.") == 1


@pytest.mark.django_db
def test_delivery_list_says_what_an_unfinished_delivery_waits_for(editor_client, discord_server):  # noqa: F811
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    unqueued = delivery_with(make_channel(discord_server), [Message.PENDING], key="a")
    retrying = delivery_with(
        make_channel(discord_server),
        [Message.SENT, Message.PENDING],
        key="b",
        error="Message 2 of 2: Discord had an error (503). Attempt 3 failed; trying again in 4 s.",
    )
    stopped = delivery_with(make_channel(discord_server), [Message.SENT, Message.PENDING], key="c")
    Delivery.objects.filter(pk=unqueued.pk).update(queue_failed_at=now)
    Delivery.objects.filter(pk=retrying.pk).update(
        state=Delivery.State.SENDING, next_attempt_at=now + timedelta(seconds=4)
    )
    Delivery.objects.filter(pk=stopped.pk).update(state=Delivery.State.SENDING)

    html = editor_client.get(reverse("admin:newsletter_delivery_changelist")).content.decode()

    assert "Pending. Waiting for the task queue, unreachable since " in html
    assert "Sending. Next attempt (retry) at " in html
    assert "Attempt 3 failed; trying again in 4 s." in html
    assert "Sending. Interrupted (its worker stopped): the sweeper resumes it." in html


@pytest.mark.parametrize("count", [1, 30])
@pytest.mark.django_db
def test_delivery_list_queries_do_not_grow_with_rows(
    editor_client,
    discord_server,  # noqa: F811
    django_assert_num_queries,
    count,
):
    channel = make_channel(discord_server)
    for number in range(count):
        issue = PublishedIssueFactory()
        delivery_with(channel, [Message.SENT, Message.PENDING], key=f"issue:{number}", issue=issue)
    url = reverse("admin:newsletter_delivery_changelist")
    editor_client.get(url)  # warm the session and permission caches

    with django_assert_num_queries(QUERIES_FOR_DELIVERY_LIST):
        response = editor_client.get(url)

    assert response.content.decode().count("<progress ") == count


# Permissions, counts, the rows with their progress, the channel filter, the date hierarchy,
# the banner of switched-off channels: none of them per row. (The session and the editor come
# from the cache: portal/auth.py.)
QUERIES_FOR_DELIVERY_LIST = 9


@pytest.mark.django_db
def test_delivery_page_lists_each_message_and_what_went_wrong(
    editor_client,
    discord_server,  # noqa: F811
):
    channel = make_channel(discord_server)
    delivery = delivery_with(channel, [Message.SENT, Message.FAILED])
    DeliveryMessage.objects.filter(delivery=delivery, position=0).update(maybe_duplicate=True)
    DeliveryMessage.objects.filter(delivery=delivery, position=1).update(
        last_error="Discord refused the message: 400 Invalid Form Body (code 50035)."
    )

    response = editor_client.get(reverse("admin:newsletter_delivery_change", args=[delivery.pk]))

    html = response.content.decode()
    assert 'name="_save"' not in html  # a delivery's page is only to read
    assert "the channel may show it twice" in html
    assert "Discord refused the message: 400 Invalid Form Body (code 50035)." in html


@pytest.mark.django_db
def test_retry_failed_action_sends_what_failed(
    editor_client,
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    channel = make_channel(discord_server)
    delivery = delivery_with(channel, [Message.SENT, Message.FAILED, Message.PENDING])
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.FAILED)

    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            reverse("admin:newsletter_delivery_changelist"),
            {"action": "retry_failed", "_selected_action": [delivery.pk]},
            follow=True,
        )

    assert "1 delivery queued again." in response.content.decode()
    assert discord_server.contents() == ["message 1", "message 2"]
    assert Delivery.objects.get(pk=delivery.pk).state == Delivery.State.SENT


@pytest.mark.django_db
def test_update_on_discord_action_edits_a_corrected_issue(
    editor_client,
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from newsletter.rendering import issue_discord_messages
    from newsletter.services.delivery import deliveries_create_for_issue

    issue = PublishedIssueFactory(introduction="Typo here.")
    channel = make_channel(discord_server, name="news")
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = deliveries_create_for_issue(issue=issue)
    issue.introduction = "Fixed here."
    issue.save()

    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            reverse("admin:newsletter_delivery_changelist"),
            {"action": "update_on_discord", "_selected_action": [delivery.pk]},
            follow=True,
        )

    assert "“news”: 1 to edit; queued for Discord." in response.content.decode()
    hook = discord_server.hooks[channel.webhook_id]
    assert discord_server.visible(hook) == issue_discord_messages(issue)
    assert [r.method for r in discord_server.requests][-1] == "PATCH"


@pytest.mark.django_db(transaction=True)
def test_update_on_discord_says_which_message_was_deleted_in_discord_and_posted_again(
    editor_client,
    discord_server,  # noqa: F811
):
    from newsletter.services.delivery import deliveries_create_for_issue

    issue = PublishedIssueFactory(introduction="Typo here.")
    make_channel(discord_server, name="news")
    [delivery] = deliveries_create_for_issue(issue=issue)  # sent at once: no transaction
    first = delivery.messages.get(position=0)
    [posted] = [m for m in discord_server.messages if m.id == first.discord_message_id]
    posted.deleted = True  # someone deleted it in Discord
    issue.introduction = "Fixed here."
    issue.save()

    response = editor_client.post(
        reverse("admin:newsletter_delivery_changelist"),
        {"action": "update_on_discord", "_selected_action": [delivery.pk]},
        follow=True,
    )

    said = "Message 1 was deleted in Discord and was posted again."
    assert f"“news”: 1 to edit; queued for Discord. {said}" in response.content.decode()
    first.refresh_from_db()
    assert first.discord_message_id == discord_server.messages[-1].id
    assert "Fixed here." in discord_server.messages[-1].content
    listing = editor_client.get(reverse("admin:newsletter_delivery_changelist"))
    assert said in listing.content.decode()
    page = editor_client.get(reverse("admin:newsletter_delivery_change", args=[delivery.pk]))
    assert "Deleted in Discord, so posted again as a new message" in page.content.decode()


@pytest.mark.django_db
def test_a_test_message_makes_one_attempt_while_the_editor_waits(
    editor_client,
    discord_server,  # noqa: F811
    settings,
):
    settings.DISCORD_RETRY_LIMIT = 5
    channel = make_channel(discord_server, name="news")
    discord_server.fail_next = 5

    response = editor_client.post(
        reverse("admin:newsletter_discordchannel_test", args=[channel.pk]), follow=True
    )

    html = response.content.decode()
    assert "“news”: the test message failed." in html
    assert "Trying again in about" in html
    assert discord_server.fail_next == 4  # one request, not five with backoff between
    assert discord_server.contents() == []


@pytest.mark.django_db
def test_a_forum_channel_is_made_in_the_form_and_its_server_learnt_by_the_check(
    editor_client,
    discord_server,  # noqa: F811
):
    hook = discord_server.create_webhook(forum=True)
    editor_client.post(
        reverse("admin:newsletter_discordchannel_add"),
        channel_form(webhook_url=discord_server.webhook_url(hook), forum="on"),
    )
    channel = DiscordChannel.objects.get()
    assert channel.forum is True
    assert channel.guild_id == ""

    editor_client.post(reverse("admin:newsletter_discordchannel_check", args=[channel.pk]))

    channel.refresh_from_db()
    assert channel.guild_id == hook.guild_id


@pytest.mark.django_db
def test_a_forum_channel_takes_no_thread_id(editor_client, discord_server):  # noqa: F811
    hook = discord_server.create_webhook(forum=True)
    response = editor_client.post(
        reverse("admin:newsletter_discordchannel_add"),
        channel_form(webhook_url=discord_server.webhook_url(hook), forum="on", thread_id="123"),
    )
    assert "A forum channel opens a post per item: leave the thread id empty." in (
        response.content.decode()
    )
    assert not DiscordChannel.objects.exists()


@pytest.mark.django_db
def test_a_forum_delivery_page_shows_each_posts_thread(
    editor_client,
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from newsletter.rendering import ForumPost
    from newsletter.services.delivery import delivery_create

    channel = make_channel(discord_server, name="forum", forum=True)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = delivery_create(
            channel=channel,
            key="k",
            contents=[ForumPost("Hello", "The introduction"), ForumPost("An item", "A paper")],
        )

    page = editor_client.get(reverse("admin:newsletter_delivery_change", args=[delivery.pk]))

    threads = list(delivery.messages.values_list("thread_id", flat=True))
    html = page.content.decode()
    assert f"The introduction (thread {threads[0]})" in html
    assert f"A paper (thread {threads[1]})" in html
