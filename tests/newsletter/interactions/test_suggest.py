"""The message command "Suggest for the newsletter": deferred, finished by a follow-up."""

import pytest

from newsletter.interactions.suggest import draft_summary, message_links
from newsletter.models import DiscordPending, Submission
from tests.factories import SubmissionFactory
from tests.stubs.discord_apps import discord_user, link_account, snowflake
from tests.workers import wait_until

TEXT = (
    "Great thread! Paper: https://arxiv.org/abs/2301.00001v2, code at "
    "[the repo](https://github.com/example/tiny-llm) and "
    "(see https://en.wikipedia.org/wiki/Attention_(machine_learning)).\n"
    "Also again https://arxiv.org/abs/2301.00001 and https://example.org/fourth"
)


def _suggest(discord_app, *, author: dict, by: dict | None = None, content: str = TEXT):
    message_id = snowflake()
    data = {
        "id": snowflake(),
        "name": "Suggest for the newsletter",
        "type": 3,
        "target_id": message_id,
        "resolved": {
            "messages": {
                message_id: {
                    "id": message_id,
                    "channel_id": "1400000000000000001",
                    "content": content,
                    "author": author,
                }
            }
        },
    }
    payload = discord_app.interaction(2, data, user=by)
    return payload, discord_app.post(payload)


def test_links_are_found_like_a_reader_would():
    assert message_links(TEXT) == [
        "https://arxiv.org/abs/2301.00001v2",
        "https://github.com/example/tiny-llm",
        "https://en.wikipedia.org/wiki/Attention_(machine_learning)",
    ]
    assert draft_summary("Read [this](https://a.example/x) now https://b.example") == (
        "Read this now"
    )


@pytest.mark.django_db
def test_suggestion_credits_the_linked_author(
    discord_app, member, other_member, django_capture_on_commit_callbacks
):
    SubmissionFactory(url="https://github.com/example/tiny-llm", author=other_member)
    author = discord_user(link_account(member), "writer")
    with django_capture_on_commit_callbacks(execute=True):
        payload, response = _suggest(discord_app, author=author)
    assert response.json() == {"type": 5, "data": {"flags": 64}}
    created = Submission.objects.filter(author=member).order_by("id")
    assert [s.url for s in created] == [
        "https://arxiv.org/abs/2301.00001v2",
        "https://en.wikipedia.org/wiki/Attention_(machine_learning)",
    ]
    assert {s.source for s in created} == {Submission.Source.DISCORD}
    assert created[0].kind == "paper"
    assert created[0].summary == (
        "Great thread! Paper: , code at the repo and (see ).\nAlso again and"
    )
    answer = discord_app.server.apps.followups[payload["token"]].answer
    assert answer["allowed_mentions"] == {"parse": []}
    assert "waiting for the editors' review" in answer["content"]
    assert "already submitted and is waiting for review" in answer["content"]


@pytest.mark.django_db
def test_unlinked_author_credits_the_suggester_and_notes_the_message(
    discord_app, member, django_capture_on_commit_callbacks
):
    suggester = discord_user(link_account(member), "helper")
    with django_capture_on_commit_callbacks(execute=True):
        _suggest(
            discord_app,
            author=discord_user(username="stranger"),
            by=suggester,
            content="look https://example.org/one",
        )
    submission = Submission.objects.get()
    assert submission.author == member
    assert submission.note_to_editors.startswith(
        "Suggested from a Discord message by stranger: https://discord.com/channels/"
    )


@pytest.mark.django_db
def test_nobody_linked_gets_the_link_to_connect(discord_app, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        payload, _ = _suggest(discord_app, author=discord_user(), by=discord_user())
    assert Submission.objects.count() == 0
    assert len(DiscordPending.objects.get().items) == 3
    answer = discord_app.server.apps.followups[payload["token"]].answer
    assert "/discord/link/" in answer["content"]


@pytest.mark.django_db
def test_a_message_without_links_is_answered_at_once(discord_app):
    _, response = _suggest(discord_app, author=discord_user(), content="no links here")
    assert response.json()["data"]["content"] == "This message has no link to suggest."


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_suggestion_through_a_real_worker(discord_app, member, celery_worker):
    """The answer is deferred at once; the worker stores the links and edits the answer."""
    author = discord_user(link_account(member), "writer")
    payload, response = _suggest(discord_app, author=author, content="see https://example.org/w")
    assert response.json()["type"] == 5
    followup = discord_app.server.apps.followups[payload["token"]]
    wait_until(lambda: followup.answer, timeout=30, message=lambda: "".join(celery_worker.log))
    assert "waiting for the editors' review" in followup.answer["content"]
    assert Submission.objects.get().url == "https://example.org/w"
