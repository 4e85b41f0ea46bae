"""Discord channels and the delivery ledger: one row per message to send."""

from django.db import models
from django.utils import timezone

from .issues import Issue


class DiscordChannel(models.Model):
    """A Discord channel reached through a webhook. The token is a secret."""

    name = models.CharField(max_length=100)
    webhook_id = models.CharField(max_length=32, editable=False)
    webhook_token = models.CharField(max_length=200, editable=False)
    thread_id = models.CharField(max_length=32, blank=True)
    forum = models.BooleanField(
        default=False,
        help_text="A forum channel: each item of an issue gets its own post (a thread), "
        "and the introduction one more.",
    )
    # The server the webhook belongs to, from Discord's answer to the webhook's GET: with a
    # forum post's thread id it makes the "Discuss on Discord" link.
    guild_id = models.CharField(max_length=32, blank=True, editable=False)
    username = models.CharField(max_length=80, blank=True)
    avatar_url = models.URLField(blank=True)
    active = models.BooleanField(default=True)
    receives_issues = models.BooleanField(default=True)
    receives_reminders = models.BooleanField(default=False)
    link_previews = models.BooleanField(
        default=False, help_text="Let Discord show link previews (off keeps messages compact)."
    )
    deactivated_reason = models.CharField(max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["webhook_id", "thread_id"], name="channel_unique_hook"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def token_hint(self) -> str:
        """What the admin may show of the token: its last four characters."""
        return f"…{self.webhook_token[-4:]}" if self.webhook_token else ""


class Delivery(models.Model):
    """Everything one channel must receive for one subject (an issue, a reminder)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(DiscordChannel, on_delete=models.CASCADE, related_name="deliveries")
    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    # What is delivered, unique per channel: "issue:12", "reminder:event:5:60", "test:…".
    key = models.CharField(max_length=120)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A lease instead of a lock held across HTTP calls: one sending run at a time. A run that
    # dies leaves a lease that expires, after which the sweeper queues the delivery again.
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A run ended to let the rate-limit window reopen or a backoff pass, and queued the next
    # one for this time; the sweeper leaves the delivery alone until it is well past.
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Its run could not be queued (the broker was unreachable): the sweeper queues it as soon
    # as it can, and the admin says it waits for the task queue.
    queue_failed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["channel", "key"], name="delivery_once_per_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.channel}"


class DeliveryMessage(models.Model):
    """One Discord message to post. A message with a Discord id is never posted again."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # After a correction: edit the posted message, or delete it when the issue got shorter.
        EDIT = "edit", "Edit pending"
        DELETE = "delete", "Delete pending"
        DELETED = "deleted", "Deleted"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="messages")
    position = models.PositiveSmallIntegerField()
    content = models.TextField()
    # Forum channels: the post's title (creates a thread), the thread it created, and the
    # issue item it is about (none for the introduction).
    thread_name = models.CharField(max_length=100, blank=True)
    thread_id = models.CharField(max_length=32, blank=True)
    item = models.ForeignKey(
        "newsletter.IssueItem",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="forum_posts",
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    discord_message_id = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # True from the moment a request is about to go out until its answer is stored: still True
    # afterwards means the attempt got no answer and Discord may or may not have posted it.
    awaiting_answer = models.BooleanField(default=False, editable=False)
    # Posted again after an unanswered attempt: the channel may show this message twice.
    maybe_duplicate = models.BooleanField(default=False, editable=False)
    # When a correction found it deleted in Discord and posted it again (as a new message, so
    # it now follows the messages that came after it); cleared by the next correction.
    reposted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "position"], name="message_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delivery} #{self.position}"
