"""/share and its modal, through the signed endpoint, against the Discord stand-in."""

import pytest
from django.core import mail

from newsletter.models import Activity, DiscordPending, Submission
from newsletter.services.submissions import submission_create
from tests.factories import PublishedIssueFactory, section
from tests.stubs.discord_apps import discord_user, link_account

pytestmark = pytest.mark.django_db


def _values(answer: dict) -> dict:
    return {
        row["components"][0]["custom_id"]: row["components"][0].get("value", "")
        for row in answer["data"]["components"]
    }


def test_share_opens_a_modal_prefilled_from_the_options(discord_app):
    answer = discord_app.command(
        "share", options={"url": "ftp://not-fetched", "summary": "Worth it", "kind": "Tool"}
    ).json()
    assert answer["type"] == 9
    assert answer["data"]["custom_id"] == "share"
    assert _values(answer) == {
        "url": "ftp://not-fetched",
        "title": "",
        "summary": "Worth it",
        "kind": "tool",
        "note": "",
    }


def test_share_prefills_title_and_summary_from_autofill(discord_app, thirdparty_settings):
    url = thirdparty_settings.url_for("/pages/og.html")
    answer = discord_app.command("share", options={"url": url}).json()
    values = _values(answer)
    assert values["title"] == "Training Tiny Models, & Why"
    assert values["summary"] == "A practical guide to training small language models."
    assert values["kind"] == "other"


def test_share_opens_the_modal_in_time_when_autofill_is_slow(discord_app, thirdparty_settings):
    url = thirdparty_settings.url_for("/pages/slow?seconds=4")
    answer = discord_app.command("share", options={"url": url}).json()
    assert answer["type"] == 9
    assert _values(answer)["title"] == ""


def test_modal_submit_creates_the_submission_like_the_website(discord_app, member):
    who = discord_user(link_account(member))
    answer = discord_app.modal(
        "share",
        {
            "url": "https://Example.org/post?utm_source=x",
            "title": "A\u202e title",
            "summary": "Good **read**",
            "kind": "Blog post",
            "note": "for the tools section",
        },
        user=who,
    ).json()
    submission = Submission.objects.get()
    assert submission.author == member
    assert submission.source == Submission.Source.DISCORD
    assert submission.kind == "blog"
    assert submission.title == "A title"
    assert submission.summary_html.strip() == "<p>Good <strong>read</strong></p>"
    assert submission.note_to_editors == "for the tools section"
    assert submission.activity.filter(action=Activity.Action.SUBMITTED).count() == 1
    assert answer["type"] == 4
    assert answer["data"]["flags"] == 64
    assert answer["data"]["allowed_mentions"] == {"parse": []}
    assert "waiting for the editors' review" in answer["data"]["content"]
    assert "/my/submissions/" in answer["data"]["content"]


def test_modal_submitted_twice_makes_one_submission(discord_app, member):
    who = discord_user(link_account(member))
    values = {"url": "https://example.org/twice", "kind": "blog"}
    discord_app.modal("share", values, user=who)
    again = discord_app.modal("share", values, user=who).json()
    assert Submission.objects.count() == 1
    assert "already submitted and is waiting for review" in again["data"]["content"]


def test_a_published_link_is_answered_with_its_issue(discord_app, member, other_member):
    issue = PublishedIssueFactory()
    existing = submission_create(author=other_member, url="https://example.org/old", kind="blog")
    existing.state = Submission.State.PUBLISHED
    existing.save()
    issue.items.create(
        submission=existing, section=section("papers-and-posts"), position=1, is_published=True
    )
    who = discord_user(link_account(member))
    answer = discord_app.modal(
        "share", {"url": "https://example.org/old", "kind": "blog"}, user=who
    ).json()
    content = answer["data"]["content"]
    assert f"already published in issue #{issue.number}: <http://" in content
    assert issue.get_absolute_url() in content
    assert Submission.objects.count() == 1


def test_bad_input_is_explained_and_nothing_is_stored(discord_app, member):
    who = discord_user(link_account(member))
    answer = discord_app.modal(
        "share", {"url": "javascript:alert(1)", "kind": "poem"}, user=who
    ).json()
    content = answer["data"]["content"]
    assert "must start with http:// or https://" in content
    assert "The kinds are: paper, blog, tool, repo, talk, event, other." in content
    assert Submission.objects.count() == 0
    # What was typed comes back in the modal, for its sender only.
    retry = answer["data"]["components"][0]["components"][0]["custom_id"]
    assert discord_app.press(retry).json()["data"]["content"] == (
        "This has expired; use /share again."
    )
    modal = discord_app.press(retry, user=who).json()
    assert modal["type"] == 9
    assert _values(modal)["url"] == "javascript:alert(1)"
    assert _values(modal)["kind"] == "poem"


def test_the_daily_limit_applies_from_discord(discord_app, member, settings):
    settings.NEWSLETTER_SUBMISSIONS_PER_DAY = 1
    who = discord_user(link_account(member))
    discord_app.modal("share", {"url": "https://example.org/1", "kind": "blog"}, user=who)
    answer = discord_app.modal(
        "share", {"url": "https://example.org/2", "kind": "blog"}, user=who
    ).json()
    assert "today's limit of 1 submissions" in answer["data"]["content"]
    assert Submission.objects.count() == 1


def test_without_a_linked_account_the_typed_text_is_kept_behind_a_link(discord_app):
    who = discord_user(username="newcomer")
    answer = discord_app.modal(
        "share",
        {"url": "https://example.org/new", "summary": "typed with care", "kind": "blog"},
        user=who,
    ).json()
    assert Submission.objects.count() == 0
    pending = DiscordPending.objects.get()
    assert pending.discord_user_id == who["id"]
    assert pending.items[0]["summary"] == "typed with care"
    data = answer["data"]
    assert data["flags"] == 64 and data["allowed_mentions"] == {"parse": []}
    assert "/discord/link/" in data["content"]
    assert data["components"][0]["components"][0]["url"].startswith("http")


def test_a_decision_on_a_discord_submission_is_emailed_as_usual(
    discord_app, member, editor, django_capture_on_commit_callbacks
):
    from newsletter.services.submissions import submission_transition

    who = discord_user(link_account(member))
    discord_app.modal(
        "share", {"url": "https://example.org/d", "kind": "blog", "title": "T"}, user=who
    )
    submission = Submission.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        submission_transition(
            submission=submission, to_state=Submission.State.ACCEPTED, actor=editor
        )
    assert [m.to for m in mail.outbox] == [[member.email]]


def test_autofill_keeps_to_a_budget_per_discord_user(discord_app, thirdparty_settings):
    url = thirdparty_settings.url_for("/pages/og.html")
    who = discord_user()
    for _ in range(20):
        assert _values(discord_app.command("share", user=who, options={"url": url}).json())["title"]
    over = discord_app.command("share", user=who, options={"url": url}).json()
    assert over["type"] == 9 and _values(over)["title"] == ""
    other = discord_app.command("share", options={"url": url}).json()
    assert _values(other)["title"] == "Training Tiny Models, & Why"
