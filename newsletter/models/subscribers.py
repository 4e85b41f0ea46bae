"""The email edition: who receives it, and the ledger of sends (one row per email to send)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .issues import Issue


class SubscriberQuerySet(models.QuerySet):
    def receiving(self):
        """Addresses that get each issue: confirmed, not unsubscribed or suspended."""
        return self.filter(state=Subscriber.State.CONFIRMED)


class Subscriber(models.Model):
    """One email address that asked for the newsletter. Double opt-in: nothing is sent to it
    (but the confirmation) until the signed link in the confirmation email is used."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        CONFIRMED = "confirmed", "Confirmed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        # Soft bounces in a row: the mailbox may come back; subscribing again resumes it.
        SUSPENDED = "suspended", "Suspended (bounces)"

    class Source(models.TextChoices):
        FORM = "form", "Subscribe form"
        PROFILE = "profile", "Member's profile"
        IMPORT = "import", "Imported by an editor"

    class Notice(models.TextChoices):
        """The email owed to the address, if any (sent by a task; a sweeper catches losses)."""

        NONE = "", "None"
        CONFIRM = "confirm", "Confirmation link"
        ALREADY = "already", "Already subscribed"

    # As typed (NFKC, the domain in its ASCII form); `key` is what makes two addresses one.
    email = models.CharField(max_length=254)
    key = models.CharField(max_length=254, unique=True, editable=False)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.FORM)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    unsubscribed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Why it stopped: "unsubscribe link", "hard bounce: 550 5.1.1 …", "complaint", …
    reason = models.CharField(max_length=300, blank=True, editable=False)
    notice = models.CharField(max_length=10, choices=Notice.choices, blank=True, editable=False)
    notice_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    notice_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    bounce_count = models.PositiveIntegerField(default=0, editable=False)
    soft_bounces_in_a_row = models.PositiveSmallIntegerField(default=0, editable=False)
    last_bounce_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_bounce = models.CharField(max_length=300, blank=True, editable=False)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state"], name="subscriber_state_idx"),
            models.Index(
                fields=["notice_requested_at"],
                condition=~Q(notice=""),
                name="subscriber_notice_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.email


class EmailSend(models.Model):
    """One issue to one subscriber. A row handed to the mail server is never sent again.

    `state` moves pending → sending (committed just before the message goes to the mail
    server) → sent, or to failed / suppressed. A row left in "sending" by a worker that died
    becomes "unconfirmed": the mail server may have it, so it is not sent again.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Handed to the mail server"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Not sent (unsubscribed)"
        UNCONFIRMED = "unconfirmed", "May have arrived"

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="email_sends")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="sends")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=1000, blank=True)
    # The mail server's or the provider's id for the message (our Message-ID over SMTP).
    message_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # What the provider reported afterwards through its webhook: "soft", "hard", "complaint".
    bounce = models.CharField(max_length=10, blank=True, editable=False)
    # A sending run holds the rows it claimed until `lease_expires_at`; a pending row with no
    # token and a future expiry waits for a retry at that time (after a 4xx, a server down).
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["issue", "subscriber"], name="emailsend_once_per_subscriber"
            ),
        ]
        indexes = [
            models.Index(fields=["issue", "state", "id"], name="emailsend_issue_state_idx"),
            models.Index(fields=["message_id"], name="emailsend_message_id_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.issue_id} → {self.subscriber_id}"
