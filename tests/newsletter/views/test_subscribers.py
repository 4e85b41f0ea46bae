"""The email edition's public pages: subscribe, confirm, unsubscribe, and the bounce webhooks.

What a visitor sees never says whether an address is on the list; bad input is a form error
(400), never a 500 or a stored row; floods from one client address are refused (429).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import re
import time

import pytest
from anymail import urls as anymail_urls
from django.conf import settings
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from newsletter import urls as newsletter_urls
from newsletter.models import EmailSend, Subscriber
from newsletter.services.subscribers import confirm_token, unsubscribe_token
from tests.factories import IssueFactory, SubscriberFactory, UserFactory
from tests.newsletter.issue_data import published_issue

pytestmark = pytest.mark.django_db

SUBSCRIBE = reverse("email:subscribe")
State = Subscriber.State


@pytest.fixture
def visitor(django_capture_on_commit_callbacks):
    """A browser from its own address; what the site queues after commit runs at once."""
    counter = iter(range(1, 250))

    def post(data, *, address=None, client=None):
        address = address or f"198.51.100.{next(counter)}"
        with django_capture_on_commit_callbacks(execute=True):
            return (client or Client()).post(SUBSCRIBE, data, REMOTE_ADDR=address)

    return post


def page(response) -> str:
    return response.content.decode()


# --- the form where readers are ----------------------------------------------------------------


def test_subscribe_form_is_on_home_archive_issue_pages_and_the_footer(client):
    issue = published_issue()
    for url in ("/", reverse("newsletter:archive"), issue.get_absolute_url(), "/events/"):
        html = page(client.get(url))
        forms = re.findall(r'<form method="post" action="/email/subscribe/"', html)
        # A card on the reader pages the issue names, and the footer's form everywhere.
        assert len(forms) == (1 if url == "/events/" else 2), url
        assert 'id="footer-subscribe-email"' in html
        assert "csrfmiddlewaretoken" not in html  # the page stays cacheable for everyone


def test_only_the_count_of_readers_is_public(client):
    SubscriberFactory(email="ada@example.org")
    SubscriberFactory(email="grace@example.org")
    SubscriberFactory(email="alan@example.org", state=State.PENDING)
    for url in ("/", SUBSCRIBE):
        html = page(client.get(url))
        assert "2 readers get it by email" in html or "2 readers get the newsletter" in html
        assert "ada@example.org" not in html


# --- subscribing -------------------------------------------------------------------------------


def test_subscribing_sends_the_confirmation_and_says_check_your_inbox(visitor, client):
    response = visitor({"email": "Ada@Example.org"})

    assert response.status_code == 302
    assert response["Location"] == reverse("email:subscribe-done")
    assert "Check your inbox" in page(client.get(response["Location"]))
    [message] = mail.outbox
    link = re.search(r"https?://\S+(/email/confirm/\S+/)", message.body).group(1)
    # GET only shows the button: mail scanners open links, and must confirm nothing.
    confirm_page = client.get(link)
    assert "Confirm your subscription" in page(confirm_page)
    assert Subscriber.objects.get().state == State.PENDING
    done = client.post(link)
    assert "You are subscribed" in page(done)
    assert Subscriber.objects.get().state == State.CONFIRMED


@pytest.mark.parametrize("state", ["new", State.PENDING, State.CONFIRMED, State.UNSUBSCRIBED])
def test_the_answer_is_the_same_whoever_the_address_belongs_to(visitor, state):
    if state != "new":
        SubscriberFactory(email="ada@example.org", state=state)
    response = visitor({"email": "ada@example.org"})
    assert (response.status_code, response["Location"]) == (302, reverse("email:subscribe-done"))
    assert len(mail.outbox) == 1  # the owner of the address learns the rest


def test_the_same_address_in_other_spellings_is_one_subscriber_and_one_email(visitor):
    for typed in ("ada@example.org", "ADA@EXAMPLE.ORG", "ａｄａ@example.org", " Ada@example.org "):
        assert visitor({"email": typed}).status_code == 302
    assert Subscriber.objects.count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Enter your email address."),
        ("not an address", "spaces or invisible characters"),
        ("ada@example.org\r\nBcc: victim@example.org", "one line"),
        ("ada@example.org%0d%0aBcc:victim@example.org", "valid email address"),
        ("a" * 290 + "@example.org", "at most 254 characters"),
        ("аda@example.org", "plain Latin letters"),
        ("ada@exa\u200bmple.org", "invisible characters"),
        ("<script>alert(1)</script>@example.org", "valid email address"),
    ],
)
def test_bad_input_is_a_form_error_and_stores_nothing(visitor, typed, says):
    response = visitor({"email": typed})
    assert response.status_code == 400
    assert says in page(response)
    assert "<script>alert(1)" not in page(response)
    assert not Subscriber.objects.exists()
    assert mail.outbox == []


def test_a_missing_or_repeated_field_is_a_400_not_a_500(visitor):
    assert visitor({}).status_code == 400
    assert visitor({"email": ["a@example.org", "b@example.org"]}).status_code in (302, 400)


def test_a_flood_from_one_address_is_refused(visitor, settings):
    settings.EMAIL_SUBSCRIBES_PER_HOUR = 5
    for n in range(5):
        assert visitor({"email": f"flood{n}@example.org"}, address="203.0.113.9").status_code == 302
    refused = visitor({"email": "flood5@example.org"}, address="203.0.113.9")
    assert refused.status_code == 429
    assert "Too many requests" in page(refused)
    assert visitor({"email": "other@example.org"}, address="203.0.113.10").status_code == 302
    assert Subscriber.objects.count() == 6


def test_a_flood_of_one_address_sends_it_one_email_an_hour(visitor):
    for _ in range(10):
        visitor({"email": "victim@example.org"})
    assert len(mail.outbox) == 1


# --- confirming and unsubscribing --------------------------------------------------------------


def test_a_broken_or_expired_confirmation_link_says_so(client):
    response = client.get(reverse("email:confirm", args=["1:broken"]))
    assert response.status_code == 400
    assert "This link does not work" in page(response)
    assert client.post(reverse("email:confirm", args=["1:broken"])).status_code == 400


def test_unsubscribe_page_asks_then_unsubscribes_and_offers_to_come_back(client):
    reader = SubscriberFactory(email="ada@example.org")
    url = reverse("email:unsubscribe", args=[unsubscribe_token(reader)])

    asked = client.get(url)
    assert "Stop sending" in page(asked) and "ada@example.org" in page(asked)
    reader.refresh_from_db()
    assert reader.state == State.CONFIRMED  # a GET changes nothing (a scanner's fetch)
    # A browser sends the form as the page opens: one click from the email for a person.
    assert "data-submit-on-open" in page(asked) and "js/unsubscribe" in page(asked)

    done = client.post(url, follow=True)
    reader.refresh_from_db()
    assert reader.state == State.UNSUBSCRIBED
    assert reader.reason == "unsubscribe link"
    assert "You are unsubscribed" in page(done)

    again = client.post(reverse("email:resubscribe", args=[unsubscribe_token(reader)]), follow=True)
    reader.refresh_from_db()
    assert reader.state == State.CONFIRMED
    assert "Welcome back" in page(again) and "You are subscribed" in page(again)
    assert "js/unsubscribe" not in page(again)  # which would unsubscribe the reader again


def test_one_click_unsubscribe_needs_no_cookie_and_no_token():
    reader = SubscriberFactory()
    EmailSend.objects.create(issue=IssueFactory(), subscriber=reader)
    mail_client = Client(enforce_csrf_checks=True)
    response = mail_client.post(
        reverse("email:unsubscribe", args=[unsubscribe_token(reader)]),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.state == State.UNSUBSCRIBED
    assert EmailSend.objects.get().state == EmailSend.State.SUPPRESSED


def test_a_forged_unsubscribe_link_unsubscribes_nobody():
    reader = SubscriberFactory()
    token = unsubscribe_token(reader)
    for forged in (f"{reader.pk}:x{token[-10:]}", f"{reader.pk + 1}:{token.split(':')[1]}"):
        response = Client().post(reverse("email:unsubscribe", args=[forged]))
        assert response.status_code == 400
    reader.refresh_from_db()
    assert reader.state == State.CONFIRMED


# --- members' profile switch -------------------------------------------------------------------


def test_profile_switch_subscribes_and_unsubscribes_the_member(client):
    member = UserFactory(email="grace@example.org")
    client.force_login(member)
    url = reverse("portal:profile")
    data = {"display_name": "Grace", "discord_handle": "", "timezone": "UTC", "credit_me": "on"}

    assert 'name="email_issues"' in page(client.get(url))
    assert client.post(url, {**data, "email_issues": "on"}).status_code == 302
    assert Subscriber.objects.get(key="grace@example.org").state == State.CONFIRMED
    assert "checked" in re.search(
        r'<input[^>]*name="email_issues"[^>]*>', page(client.get(url))
    ).group(0)

    assert client.post(url, data).status_code == 302
    assert Subscriber.objects.get(key="grace@example.org").state == State.UNSUBSCRIBED


# --- bounce webhooks (django-anymail) ----------------------------------------------------------


def basic_auth(credentials: str = "hooks:test-webhook-secret") -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


def postmark(payload: dict, **headers):
    return Client().post(
        "/email/webhooks/postmark/tracking/",
        json.dumps(payload),
        content_type="application/json",
        **headers,
    )


def test_postmark_hard_bounce_unsubscribes_with_the_reason():
    reader = SubscriberFactory(email="ada@example.org")
    send = EmailSend.objects.create(
        issue=IssueFactory(), subscriber=reader, state="sent", message_id="pm-1"
    )
    payload = {
        "RecordType": "Bounce",
        "ID": 42,
        "Type": "HardBounce",
        "MessageID": "pm-1",
        "Email": "ada@example.org",
        "Description": "The server was unable to deliver your message.",
        "Details": "smtp;550 5.1.1 The email account does not exist.",
        "BouncedAt": "2030-01-01T10:00:00Z",
        "Metadata": {"send_id": str(send.pk)},
    }
    assert postmark(payload).status_code == 400  # no credentials: refused, nothing changes
    reader.refresh_from_db()
    assert reader.state == State.CONFIRMED

    assert postmark(payload, **basic_auth()).status_code == 200
    reader.refresh_from_db()
    send.refresh_from_db()
    assert reader.state == State.UNSUBSCRIBED
    assert "550 5.1.1 The email account does not exist." in reader.reason
    assert send.bounce == "hard"


def test_postmark_spam_complaint_unsubscribes():
    reader = SubscriberFactory(email="ada@example.org")
    payload = {
        "RecordType": "SpamComplaint",
        "ID": 43,
        "Type": "SpamComplaint",
        "MessageID": "pm-2",
        "Email": "ada@example.org",
        "BouncedAt": "2030-01-01T10:00:00Z",
    }
    assert postmark(payload, **basic_auth()).status_code == 200
    reader.refresh_from_db()
    assert reader.state == State.UNSUBSCRIBED
    assert reader.reason.startswith("complaint")


def mailgun(event_data: dict, *, key: str = "test-mailgun-signing-key"):
    timestamp, token = str(int(time.time())), "a" * 50
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    body = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }
    return Client().post(
        "/email/webhooks/mailgun/tracking/",
        json.dumps(body),
        content_type="application/json",
        **basic_auth(),
    )


def test_mailgun_soft_bounces_suspend_after_three_in_a_row(settings):
    settings.EMAIL_SOFT_BOUNCE_LIMIT = 3
    reader = SubscriberFactory(email="ada@example.org")
    for number in range(3):
        send = EmailSend.objects.create(
            issue=IssueFactory(), subscriber=reader, state="sent", message_id=f"<mg{number}@x>"
        )
        response = mailgun(
            {
                "event": "failed",
                "severity": "temporary",
                "recipient": "ada@example.org",
                "timestamp": time.time(),
                "message": {"headers": {"message-id": f"mg{number}@x"}},
                "delivery-status": {"message": "452 4.2.2 Mailbox full", "code": 452},
                "user-variables": {"send_id": str(send.pk)},
            }
        )
        assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.state == State.SUSPENDED
    assert reader.bounce_count == 3


def test_mailgun_event_with_a_wrong_signature_is_refused():
    reader = SubscriberFactory(email="ada@example.org")
    response = mailgun(
        {"event": "complained", "recipient": "ada@example.org", "timestamp": time.time()},
        key="not-the-key",
    )
    assert response.status_code == 400
    reader.refresh_from_db()
    assert reader.state == State.CONFIRMED


def test_confirmation_page_does_not_say_who_else_is_on_the_list(client):
    reader = SubscriberFactory(email="ada@example.org", state=State.PENDING)
    html = page(client.get(reverse("email:confirm", args=[confirm_token(reader)])))
    assert "ada@example.org" in html  # its own address, to the holder of its link
    assert settings.SITE_NAME in html


@pytest.mark.skipif(importlib.util.find_spec("boto3") is not None, reason="boto3 is installed")
def test_a_tracking_provider_missing_its_package_fails_at_start_with_the_fix():
    """Amazon SES's webhook needs boto3: said when the URLs load, not as a 500 to a bounce."""
    [view] = [
        p.callback for p in anymail_urls.urlpatterns if p.name == "amazon_ses_tracking_webhook"
    ]
    with pytest.raises(ImproperlyConfigured, match=r"django-anymail\[amazon-ses\]"):
        newsletter_urls._check_installed("amazon_ses", view)
