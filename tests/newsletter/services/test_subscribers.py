"""The email list: addresses, double opt-in, unsubscribing, imports, notices, bounces.

Emails are read from what Django's backend received (the test outbox), not from calls.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.signing import TimestampSigner, b62_encode
from django.utils import timezone

from newsletter.models import EmailSend, Subscriber
from newsletter.services.bounces import (
    TrackingEvent,
    subscriber_bounce,
    subscriber_record_event,
    tracking_outcome,
)
from newsletter.services.subscribers import (
    AddressError,
    TokenError,
    address_clean,
    confirm_token,
    member_receives_issues,
    notice_send,
    notices_sweep,
    subscriber_confirm,
    subscriber_from_unsubscribe_token,
    subscriber_resubscribe,
    subscriber_set_for_member,
    subscriber_subscribe,
    subscriber_unsubscribe,
    subscribers_import,
    unsubscribe_token,
)
from tests.factories import IssueFactory, SubscriberFactory, UserFactory

pytestmark = pytest.mark.django_db

State = Subscriber.State


@pytest.fixture
def inline(django_capture_on_commit_callbacks):
    """Run what the services queue after commit (the notices) as the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def link_in(message) -> str:
    return re.search(r"https?://\S+/email/confirm/\S+/", message.body).group(0)


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


# --- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored", "key"),
    [
        ("Ada@Example.ORG", "Ada@example.org", "ada@example.org"),
        ("  ada@example.org ", "ada@example.org", "ada@example.org"),
        ("ａｄａ@ｅｘａｍｐｌｅ.ｏｒｇ", "ada@example.org", "ada@example.org"),  # fullwidth folds
        ("ada@bücher.example", "ada@xn--bcher-kva.example", "ada@xn--bcher-kva.example"),
        ("ada@EXAMPLE.org.", "ada@example.org", "ada@example.org"),
    ],
)
def test_address_clean_gives_one_key_per_mailbox(typed, stored, key):
    assert address_clean(typed) == (stored, key)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "required"),
        ("ada", "invalid"),
        ("ada@", "invalid"),
        ("ada@example.org\r\nBcc: victim@example.org", "invalid"),
        ("ada@example.org\nX-Evil: 1", "invalid"),
        ("ada\x00@example.org", "invalid"),
        ("аda@example.org", "invalid"),  # a Cyrillic "а"
        ("ad\u200ba@example.org", "invalid"),  # a zero-width space
        ("a" * 300 + "@example.org", "max_length"),
        ("a" * 65 + "@example.org", "max_length"),
        ("ada@exa mple.org", "invalid"),
        ("ada@-example-.org", "invalid"),
    ],
)
def test_address_clean_refuses_what_cannot_be_one_mailbox(typed, code):
    with pytest.raises(AddressError) as caught:
        address_clean(typed)
    assert caught.value.code == code


def test_lookalike_domain_is_kept_in_its_visible_ascii_form():
    address, key = address_clean("ada@exаmple.org")  # Cyrillic "а" in the domain
    assert address.startswith("ada@xn--")
    assert key != "ada@example.org"


# --- double opt-in -----------------------------------------------------------------------------


def test_subscribe_sends_one_confirmation_and_nothing_else_until_confirmed(inline):
    with inline():
        subscriber = subscriber_subscribe(email="Ada@Example.org")

    assert subscriber.state == State.PENDING
    [message] = mail.outbox
    assert message.to == ["Ada@example.org"]
    assert "Confirm your subscription" in message.subject
    confirmed = subscriber_confirm(token=token_of(link_in(message)))
    assert confirmed.state == State.CONFIRMED
    assert confirmed.confirmed_at is not None
    assert list(Subscriber.objects.receiving()) == [confirmed]


def test_subscribing_again_within_the_hour_sends_nothing_more(inline):
    with inline():
        subscriber_subscribe(email="ada@example.org")
        subscriber_subscribe(email="ADA@example.org")
        subscriber_subscribe(email="ａｄａ@example.org")
    assert len(mail.outbox) == 1
    assert Subscriber.objects.count() == 1

    later = timezone.now() + timedelta(hours=1, seconds=1)
    with inline():
        subscriber_subscribe(email="ada@example.org", now=later)
    assert len(mail.outbox) == 2


def test_subscribing_a_confirmed_address_tells_its_owner_and_changes_nothing(inline):
    reader = SubscriberFactory(email="ada@example.org")
    with inline():
        again = subscriber_subscribe(email="ada@example.org")
        subscriber_subscribe(email="ada@example.org")

    assert again.state == State.CONFIRMED
    [message] = mail.outbox
    assert "already receive" in message.subject
    assert f"/email/unsubscribe/{unsubscribe_token(reader)}/" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_unsubscribed_address_subscribing_again_must_confirm_again(inline):
    reader = SubscriberFactory(email="ada@example.org", state=State.UNSUBSCRIBED)
    with inline():
        subscriber_subscribe(email="ada@example.org")
    reader.refresh_from_db()
    assert reader.state == State.PENDING
    assert "Confirm" in mail.outbox[0].subject


def test_confirmation_link_expires_and_cannot_be_forged(settings, inline):
    settings.EMAIL_CONFIRM_DAYS = 7
    with inline():
        subscriber = subscriber_subscribe(email="ada@example.org")
    token = confirm_token(subscriber)
    old = TimestampSigner(salt="newsletter.subscriber.confirm")
    eight_days_ago = int((timezone.now() - timedelta(days=8)).timestamp())
    old.timestamp = lambda: b62_encode(eight_days_ago)
    expired = old.sign_object({"s": subscriber.pk, "k": subscriber.key})

    with pytest.raises(TokenError, match="expired"):
        subscriber_confirm(token=expired)
    with pytest.raises(TokenError, match="not valid"):
        subscriber_confirm(token=token[:-2] + "xx")
    with pytest.raises(TokenError, match="not valid"):
        subscriber_confirm(token=unsubscribe_token(subscriber))  # another salt
    subscriber.refresh_from_db()
    assert subscriber.state == State.PENDING


def test_an_old_confirmation_link_does_not_undo_an_unsubscribe():
    reader = SubscriberFactory()
    token = confirm_token(reader)
    subscriber_unsubscribe(subscriber=reader, reason="unsubscribe link")
    with pytest.raises(TokenError, match="unsubscribe"):
        subscriber_confirm(token=token)


# --- unsubscribing -----------------------------------------------------------------------------


def test_unsubscribe_is_immediate_records_why_and_suppresses_waiting_sends():
    reader = SubscriberFactory()
    waiting = EmailSend.objects.create(issue=IssueFactory(), subscriber=reader)

    assert subscriber_unsubscribe(subscriber=reader, reason="unsubscribe link") is True
    assert subscriber_unsubscribe(subscriber=reader, reason="again") is False

    reader.refresh_from_db()
    waiting.refresh_from_db()
    assert (reader.state, reader.reason) == (State.UNSUBSCRIBED, "unsubscribe link")
    assert reader.unsubscribed_at is not None
    assert waiting.state == EmailSend.State.SUPPRESSED


def test_unsubscribe_token_never_expires_and_names_its_subscriber():
    reader = SubscriberFactory()
    assert subscriber_from_unsubscribe_token(unsubscribe_token(reader)) == reader
    assert subscriber_from_unsubscribe_token(unsubscribe_token(None)) is None  # a test email
    with pytest.raises(TokenError):
        subscriber_from_unsubscribe_token(f"{reader.pk}:forged")
    with pytest.raises(TokenError):
        subscriber_from_unsubscribe_token(confirm_token(reader))


def test_resubscribe_from_the_unsubscribe_page_needs_no_new_confirmation():
    reader = SubscriberFactory()
    subscriber_unsubscribe(subscriber=reader, reason="unsubscribe link")
    again = subscriber_resubscribe(subscriber=reader)
    assert again.state == State.CONFIRMED
    assert again.reason == ""
    assert mail.outbox == []


# --- members' profile switch -------------------------------------------------------------------


def test_profile_switch_subscribes_a_verified_member_at_once(inline):
    member = UserFactory(email="Grace@Example.org")
    with inline():
        subscriber = subscriber_set_for_member(user=member, receive=True)
    assert subscriber.state == State.CONFIRMED
    assert subscriber.source == Subscriber.Source.PROFILE
    assert member_receives_issues(member)
    assert mail.outbox == []

    subscriber_set_for_member(user=member, receive=False)
    subscriber.refresh_from_db()
    assert subscriber.state == State.UNSUBSCRIBED
    assert subscriber.reason == "switched off in the profile"
    assert not member_receives_issues(member)


def test_profile_switch_of_an_unverified_address_asks_for_confirmation(inline):
    member = UserFactory(verified=False)
    with inline():
        subscriber = subscriber_set_for_member(user=member, receive=True)
    assert subscriber.state == State.PENDING
    assert "Confirm" in mail.outbox[0].subject


# --- imports -----------------------------------------------------------------------------------


def test_import_adds_new_addresses_each_with_its_confirmation(inline):
    SubscriberFactory(email="gone@example.org", state=State.UNSUBSCRIBED)
    SubscriberFactory(email="here@example.org")
    text = (
        "email,name\n"
        "new1@example.org,New One\n"
        "NEW1@example.org,Again\n"
        "Gone@example.org,Left us\n"
        "here@example.org,Reader\n"
        "not an address,\n"
        "аda@example.org,lookalike\n"
        "new2@example.org\n"
    )
    with inline():
        report = subscribers_import(text=text)

    assert (report.added, report.already) == (2, 2)
    assert [line for line, _, _ in report.invalid] == [6, 7]
    assert sorted(m.to[0] for m in mail.outbox) == ["new1@example.org", "new2@example.org"]
    assert all("Confirm" in m.subject for m in mail.outbox)
    assert Subscriber.objects.get(key="gone@example.org").state == State.UNSUBSCRIBED
    assert set(
        Subscriber.objects.filter(source=Subscriber.Source.IMPORT).values_list("state", flat=True)
    ) == {State.PENDING}


# --- notices -----------------------------------------------------------------------------------


def test_a_notice_lost_to_a_mail_server_down_is_sent_by_the_sweeper(
    smtp_settings, inline, settings
):
    server = smtp_settings
    server.stop()
    with inline():
        subscriber = subscriber_subscribe(email="ada@example.org")  # fails, logged
    subscriber.refresh_from_db()
    assert subscriber.notice == Subscriber.Notice.CONFIRM

    server.start()
    settings.NEWSLETTER_SWEEP_AFTER = 0
    with inline():
        assert notices_sweep(now=timezone.now() + timedelta(seconds=1)) == 1
    assert len(server.to("ada@example.org")) == 1
    assert notice_send(subscriber_id=subscriber.pk) is False  # owed nothing any more
    assert len(server.to("ada@example.org")) == 1


# --- bounces and complaints --------------------------------------------------------------------


def event(kind: str, recipient: str, **kwargs) -> TrackingEvent:
    return TrackingEvent(event_type=kind, recipient=recipient, **kwargs)


@pytest.mark.parametrize(
    ("tracking", "outcome"),
    [
        (event("bounced", "a@x.org", esp_type="HardBounce"), "hard"),
        (event("bounced", "a@x.org", esp_type="SoftBounce"), "soft"),
        (event("bounced", "a@x.org", description="Transient: MailboxFull"), "soft"),
        (event("bounced", "a@x.org", description="Permanent: General"), "hard"),
        (event("bounced", "a@x.org", mta_response="452 4.2.2 Mailbox full"), "soft"),
        (event("deferred", "a@x.org"), "soft"),
        (event("complained", "a@x.org"), "complaint"),
        (event("rejected", "a@x.org", reject_reason="bounced"), "hard"),
        (event("rejected", "a@x.org", reject_reason="spam"), "complaint"),
        (event("rejected", "a@x.org", reject_reason="blocked"), None),
        (event("delivered", "a@x.org"), "delivered"),
        (event("opened", "a@x.org"), None),
    ],
)
def test_tracking_outcome_tells_hard_from_soft(tracking, outcome):
    assert tracking_outcome(tracking) == outcome


def test_hard_bounce_unsubscribes_and_records_why():
    reader = SubscriberFactory(email="ada@example.org")
    send = EmailSend.objects.create(
        issue=IssueFactory(), subscriber=reader, state="sent", message_id="<m1@x>"
    )
    outcome = subscriber_record_event(
        event=event(
            "bounced", "ADA@example.org", message_id="<m1@x>", mta_response="550 5.1.1 no such user"
        )
    )
    reader.refresh_from_db()
    send.refresh_from_db()
    assert outcome == "hard"
    assert reader.state == State.UNSUBSCRIBED
    assert reader.reason == "hard bounce: 550 5.1.1 no such user"
    assert reader.bounce_count == 1
    assert send.bounce == "hard"


def test_complaint_unsubscribes():
    reader = SubscriberFactory(email="ada@example.org")
    subscriber_record_event(event=event("complained", "ada@example.org", description="abuse"))
    reader.refresh_from_db()
    assert reader.state == State.UNSUBSCRIBED
    assert reader.reason.startswith("complaint")


def test_three_soft_bounces_in_a_row_suspend_and_a_delivery_resets_the_count(settings):
    settings.EMAIL_SOFT_BOUNCE_LIMIT = 3
    reader = SubscriberFactory(email="ada@example.org")
    issues = [IssueFactory() for _ in range(4)]
    sends = [
        EmailSend.objects.create(issue=i, subscriber=reader, state="sent", message_id=f"<{i.pk}@x>")
        for i in issues
    ]

    def soft(send):
        subscriber_record_event(
            event=event("deferred", "ada@example.org", message_id=send.message_id)
        )

    soft(sends[0])
    soft(sends[0])  # the same message deferred again counts once
    soft(sends[1])
    subscriber_record_event(event=event("delivered", "ada@example.org"))
    reader.refresh_from_db()
    assert (reader.state, reader.soft_bounces_in_a_row, reader.bounce_count) == (
        State.CONFIRMED,
        0,
        2,
    )
    for send in sends[1:]:
        EmailSend.objects.filter(pk=send.pk).update(bounce="")
        soft(send)
    reader.refresh_from_db()
    assert reader.state == State.SUSPENDED
    assert reader.reason.startswith("3 soft bounces in a row")


def test_bounce_for_an_unknown_address_changes_nothing():
    assert subscriber_record_event(event=event("bounced", "nobody@example.org")) == "hard"
    assert not Subscriber.objects.exists()


def test_subscriber_bounce_of_a_suspended_address_keeps_it_suspended():
    reader = SubscriberFactory(state=State.SUSPENDED, reason="earlier")
    subscriber_bounce(subscriber=reader, hard=True, reason="550 5.1.1")
    reader.refresh_from_db()
    assert (reader.state, reader.reason) == (State.SUSPENDED, "earlier")
