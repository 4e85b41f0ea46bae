"""Endorsements: "+1, I want this in the newsletter too", from members who found their link
already submitted. One per member per submission; the editors and the submitter see them."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .submissions import Submission

REASON_MAX_LENGTH = 200


class Endorsement(models.Model):
    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="endorsements"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="endorsements"
    )
    # One line: why this member wants it in too. Optional.
    reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "member"], name="endorsement_one_per_member"
            ),
        ]

    def __str__(self) -> str:
        return f"+1 from {self.member} on {self.submission}"
