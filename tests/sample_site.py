"""A small but complete site (one object of each kind) for the security and reliability tests.

Built through the services where one exists, so the rows look like the real thing: a pending
submission by the editor, an accepted one, a draft and a published issue (with its Discord
delivery and its email to the one confirmed subscriber), an event with an RSVP, a channel with a
known webhook token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import user_pk_to_url_str
from django.utils import timezone

from events import services as event_services
from events.models import RSVP, Event
from newsletter.models import (
    Delivery,
    DiscordChannel,
    Issue,
    Kind,
    Submission,
    Subscriber,
    Topic,
)
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_create, issue_publish
from newsletter.services.submissions import submission_create
from newsletter.services.subscribers import confirm_token, subscriber_confirm, subscriber_subscribe
from newsletter.services.votes import vote_cast
from portal.models import User
from tests.factories import EditorFactory, SubmissionFactory, UserFactory

PASSWORD = "correct horse battery staple"  # UserFactory's
WEBHOOK_TOKEN = "sEcReT-webhook-token-" + "x7Qp" * 12


@dataclass
class Site:
    superuser: User
    member: User
    unverified: User
    submission: Submission  # pending, by the superuser (so its member pages are theirs)
    accepted: Submission
    draft: Issue
    issue: Issue  # published, with a submission and an event
    event: Event
    channel: DiscordChannel
    delivery: Delivery
    reader: Subscriber  # confirmed: the published issue was emailed to it
    confirm_key: str  # allauth's email-confirmation key for `unverified`
    reset_uidb36: str  # allauth's password-reset key parts for `member`
    reset_key: str


def build_site() -> Site:
    superuser = EditorFactory(is_superuser=True, username="chief", email="chief@example.org")
    member = UserFactory()
    unverified = UserFactory(verified=False, email="new@example.org", username="newcomer")
    EmailAddress.objects.create(
        user=unverified, email=unverified.email, verified=False, primary=True
    )
    channel = DiscordChannel.objects.create(
        name="announcements", webhook_id="123456789012345678", webhook_token=WEBHOOK_TOKEN
    )
    submission = submission_create(
        author=superuser,
        url="https://example.org/posts/pending",
        kind=Kind.BLOG,
        title="A pending post",
        summary="Waiting for **review**.",
        extra_links=[("Code", "https://github.com/example/code")],
    )
    vote_cast(submission=submission, editor=EditorFactory(), value=1)
    accepted = SubmissionFactory(state=Submission.State.ACCEPTED, author=member)
    in_issue = SubmissionFactory(state=Submission.State.ACCEPTED, author=member, kind=Kind.PAPER)
    in_issue.topics.set([Topic.objects.create(name="Sparsity", slug="sparsity")])
    event = event_services.event_save(
        event=Event(
            title="Reading group: sparse attention",
            slug="reading-group-sparse-attention",
            start=timezone.now() + timedelta(days=10),
            end=timezone.now() + timedelta(days=10, hours=1),
            state=Event.State.PUBLISHED,
            capacity=5,
            description="We read **the paper**.",
        ),
        by=superuser,
    )
    event_services.rsvp_set(event=event, user=member, status=RSVP.Status.GOING)
    draft = issue_create(title="Next month", introduction="Draft **intro**.", actor=superuser)
    issue = issue_create(title="What happened in March", introduction="Hello.", actor=superuser)
    issue_item_add(issue=issue, submission=in_issue, actor=superuser)
    issue_item_add(issue=issue, event=event, actor=superuser)
    reader = subscriber_subscribe(email="reader@example.org")
    subscriber_confirm(token=confirm_token(reader))
    issue = issue_publish(issue=issue, actor=superuser)
    delivery = Delivery.objects.get(channel=channel, issue=issue)
    return Site(
        superuser=superuser,
        member=member,
        unverified=unverified,
        submission=submission,
        accepted=accepted,
        draft=draft,
        issue=issue,
        event=event,
        channel=channel,
        delivery=delivery,
        reader=reader,
        confirm_key=EmailConfirmationHMAC(EmailAddress.objects.get(user=unverified)).key,
        reset_uidb36=user_pk_to_url_str(member),
        reset_key=default_token_generator.make_token(member),
    )
