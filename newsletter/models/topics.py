"""Topics editors keep (quantisation, distillation, ...); submissions carry up to three."""

from django.db import models
from django.urls import reverse

# A submission carries at most this many topics: the form, the review page and the services check.
TOPICS_PER_SUBMISSION = 3


class Topic(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.CharField(
        max_length=300, blank=True, help_text="One line shown on the topic's page."
    )
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Order on the submit form; lower first."
    )

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("newsletter:topic", args=[self.slug])
