"""Members: the user model carries the profile a member edits on /profile/."""

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a time zone we know, such as Europe/Paris.")


class User(AbstractUser):
    """A community member. Email is the login; the username is kept for the admin."""

    display_name = models.CharField(
        max_length=80,
        blank=True,
        help_text="Shown when we credit your submissions. Leave empty to use your email's name.",
    )
    discord_handle = models.CharField(
        max_length=40,
        blank=True,
        help_text="Optional, e.g. ada_l. Editors use it to thank you on Discord.",
    )
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text="Event times are shown in this time zone.",
    )
    credit_me = models.BooleanField(
        default=True,
        verbose_name="credit me in the newsletter",
        help_text="Show your display name under the items you submitted.",
    )
    # Account preferences (profile page). Emails a member asked for (a confirmation of their
    # own RSVP, sign-in mail) are always sent; these switch off the ones we send unasked.
    email_decisions = models.BooleanField(
        default=True,
        verbose_name="email me decisions on my submissions",
        help_text="Accepted, rejected and published: one email each.",
    )
    email_reminders = models.BooleanField(
        default=True,
        verbose_name="email me event reminders",
        help_text="Before an event you are going to starts.",
    )
    show_when_going = models.BooleanField(
        default=False,
        verbose_name="show my name to members on events I go to",
        help_text="Other signed-in members see who is going; off, you count as one more.",
    )
    # The secret in the member's personal calendar URL; empty: no calendar link. A new one
    # replaces it, and the old URL stops working at once.
    calendar_token = models.CharField(max_length=64, blank=True, default="", editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar_token"],
                condition=~models.Q(calendar_token=""),
                name="user_calendar_token_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.public_name

    @property
    def public_name(self) -> str:
        if self.display_name:
            return self.display_name
        if self.email:
            return self.email.split("@", 1)[0]
        return self.username

    @property
    def is_editor(self) -> bool:
        """Editors vote and decide; membership of the Editors group says so."""
        cached = getattr(self, "_is_editor", None)
        if cached is None:
            cached = self.is_active and self.groups.filter(name="Editors").exists()
            self._is_editor = cached
        return cached
