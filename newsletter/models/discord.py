"""What a member typed in Discord before their account was linked: kept until they link it."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class DiscordPending(models.Model):
    """A submission from Discord waiting for its sender to log in or sign up with Discord.

    The signed link in the ephemeral reply names this row; opening it after logging in with
    the same Discord account completes the submission once (`completed_at`). A /share refused
    for its content (a bad link, the daily limit) is kept here too, for "Edit and try again".
    """

    discord_user_id = models.CharField(max_length=32)
    discord_username = models.CharField(max_length=100, blank=True)
    # One to three submissions as typed in Discord ({url, title, summary, kind, note}), each
    # checked and cleaned by the submission service when the member completes them.
    items = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submission = models.ForeignKey(
        "newsletter.Submission", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "pending submission from Discord"

    def __str__(self) -> str:
        return f"{len(self.items)} link(s) from Discord user {self.discord_user_id}"
