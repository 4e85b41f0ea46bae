"""Publishing says what it will do (the confirmation page) and shows what it did (progress)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from newsletter.models import DiscordChannel, Issue
from newsletter.rendering import issue_discord_messages
from tests.factories import SubscriberFactory
from tests.newsletter.issue_data import draft_issue, published_issue
from tests.stubs.discord import discord_server, make_channel  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def confirm_url(issue: Issue) -> str:
    return reverse("admin:newsletter_issue_publish_confirm", args=[issue.pk])


def change_url(issue: Issue) -> str:
    return reverse("admin:newsletter_issue_change", args=[issue.pk])


def channel(name: str, **fields) -> DiscordChannel:
    return DiscordChannel.objects.create(
        name=name, webhook_id=f"{abs(hash(name)) % 10**12}", webhook_token="t" * 60, **fields
    )


def test_confirm_lists_channels_messages_and_subscribers(editor_client):
    issue = draft_issue(items=2)
    channel("#newsletter")
    channel("#announcements")
    channel("#reading-group", receives_issues=False)
    channel("#gone", active=False)
    SubscriberFactory.create_batch(3)
    messages = len(issue_discord_messages(issue))

    response = editor_client.get(confirm_url(issue), {"action": "publish"})

    body = response.content.decode()
    assert response.status_code == 200
    assert "Discord: 2 channels" in body
    assert f"<td>#announcements</td><td>{messages}</td>" in body
    assert f"<td>#newsletter</td><td>{messages}</td>" in body
    assert "#reading-group" not in body and "#gone" not in body
    assert "<strong>3</strong> confirmed subscribers" in body
    assert "Yes, publish now" in body
    # Only looking: nothing is published yet.
    issue.refresh_from_db()
    assert issue.state == Issue.State.DRAFT


def test_confirm_with_nobody_to_tell_says_so(editor_client):
    issue = draft_issue(items=1)
    body = editor_client.get(confirm_url(issue), {"action": "publish"}).content.decode()
    assert "No Discord channel receives issues: nothing will be posted to Discord." in body
    assert "No confirmed email subscriber: no email will be sent." in body
    assert "Nobody will be told" in body


def test_confirm_schedule_carries_the_time_to_the_button(editor_client):
    issue = draft_issue(items=1)
    later = timezone.localtime() + timedelta(days=2)
    stamp = later.strftime("%Y-%m-%dT%H:%M")
    response = editor_client.get(
        confirm_url(issue), {"action": "schedule", "publish_at": stamp, "next": change_url(issue)}
    )
    body = response.content.decode()
    assert f'name="publish_at" value="{stamp}"' in body
    assert "Yes, schedule it" in body
    editor_client.post(
        reverse("admin:newsletter_issue_publishing", args=[issue.pk]),
        {"action": "schedule", "publish_at": stamp},
    )
    issue.refresh_from_db()
    assert issue.state == Issue.State.SCHEDULED


@pytest.mark.parametrize(
    "params, error",
    [
        ({"action": "schedule", "publish_at": "next tuesday"}, "Choose a date and time"),
        ({"action": "schedule"}, "Choose a date and time"),
        ({"action": "explode"}, "Choose to publish now or to schedule."),
    ],
)
def test_confirm_bad_parameters_go_back_with_a_message(editor_client, params, error):
    issue = draft_issue(items=1)
    response = editor_client.get(confirm_url(issue), params, follow=True)
    assert error in response.content.decode()
    assert response.redirect_chain[-1][0] == change_url(issue)


def test_change_page_schedule_control_has_its_label_and_date_field(editor_client):
    issue = draft_issue(items=1)
    body = editor_client.get(change_url(issue)).content.decode()
    assert '<label for="id_publish_at">Publish at (In your time zone.)</label>' in body
    assert 'type="datetime-local" name="publish_at"' in body
    assert 'id="id_publish_at"' in body
    assert "Schedule…" in body


def test_list_action_publish_now_asks_first_then_publishes(editor_client):
    issue = draft_issue(items=1)
    channel("#newsletter")
    changelist = reverse("admin:newsletter_issue_changelist")

    response = editor_client.post(
        changelist, {"action": "publish_now", "_selected_action": [issue.pk]}
    )
    assert "Discord: 1 channel" in response.content.decode()
    issue.refresh_from_db()
    assert issue.state == Issue.State.DRAFT

    response = editor_client.post(
        changelist,
        {"action": "publish_now", "_selected_action": [issue.pk], "confirmed": "yes"},
        follow=True,
    )
    assert "1 issue published." in response.content.decode()
    issue.refresh_from_db()
    assert issue.state == Issue.State.PUBLISHED


def test_change_page_shows_delivery_progress_per_channel(
    editor_client,
    discord_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    sent_to = make_channel(discord_server, name="#newsletter")
    with django_capture_on_commit_callbacks(execute=True):
        issue = published_issue(items=1)
    count = sent_to.deliveries.get().messages.count()

    body = editor_client.get(change_url(issue)).content.decode()

    assert "Discord · 1 channel" in body
    assert "#newsletter" in body
    assert f"{count} of {count} sent" in body
    assert "Sent" in body


def test_change_page_of_an_issue_published_to_no_channel_says_so(editor_client):
    issue = published_issue(items=1)
    body = editor_client.get(change_url(issue)).content.decode()
    assert "No Discord channel received issues when this one was published" in body
