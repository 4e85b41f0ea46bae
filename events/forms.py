"""The RSVP form members post, and the organisers' event form in the admin."""

from __future__ import annotations

import zoneinfo
from datetime import UTC

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.forms import COMMON_TIMEZONES, MarkdownEditor

from .models import RSVP, Event
from .services import TRANSITIONS

# Slugs taken by the events URLs themselves (/events/calendar.ics).
RESERVED_SLUGS = {"calendar"}


class RSVPForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            (RSVP.Status.GOING, "Going"),
            (RSVP.Status.MAYBE, "Maybe"),
            (RSVP.Status.NOT_GOING, "Not going"),
        ],
        error_messages={"invalid_choice": "Choose going, maybe or not going."},
    )


class LocalDateTimeField(forms.DateTimeField):
    """A date and time as typed, without a zone: the form applies the event's own zone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def to_python(self, value):
        # Parsed under UTC so Django does not apply the viewer's zone; the zone is dropped again.
        with timezone.override(UTC):
            result = super().to_python(value)
        return result.replace(tzinfo=None) if result else result


class EventAdminForm(forms.ModelForm):
    """Start, end and deadline are entered in the event's time zone and stored in UTC."""

    time_zone = forms.ChoiceField(
        choices=[(tz, tz.replace("_", " ")) for tz in COMMON_TIMEZONES],
        initial="UTC",
        help_text="The organiser's time zone. Start, end and the RSVP deadline below are in it.",
    )
    start = LocalDateTimeField(label="Starts", help_text="In the time zone above.")
    end = LocalDateTimeField(label="Ends", help_text="In the time zone above.")
    rsvp_deadline = LocalDateTimeField(
        label="RSVP deadline",
        required=False,
        help_text="In the time zone above. Empty: members can answer until the start.",
    )

    resource_url = forms.URLField(
        label="Paper or resource link", max_length=2000, required=False, assume_scheme="https"
    )

    local_fields = ("start", "end", "rsvp_deadline")

    class Meta:
        model = Event
        fields = [
            "title",
            "slug",
            "kind",
            "state",
            "description",
            "time_zone",
            "start",
            "end",
            "location",
            "resource_title",
            "resource_url",
            "hosts",
            "capacity",
            "rsvp_deadline",
        ]
        widgets = {"description": MarkdownEditor}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        if instance.pk:
            zone = _zone(instance.time_zone)
            for name in self.local_fields:
                value = getattr(instance, name)
                if value is not None:
                    self.initial[name] = value.astimezone(zone).replace(tzinfo=None)
            allowed = {instance.state, *TRANSITIONS[instance.state]}
        else:
            allowed = {Event.State.DRAFT, Event.State.PUBLISHED}
        if "state" in self.fields:
            self.fields["state"].choices = [c for c in Event.State.choices if c[0] in allowed]

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if slug in RESERVED_SLUGS:
            raise ValidationError(f"“{slug}” is used by the site's own pages; choose another slug.")
        return slug

    def clean(self):
        cleaned = super().clean()
        zone_name = cleaned.get("time_zone")
        if not zone_name:
            return cleaned
        zone = _zone(zone_name)
        for name in self.local_fields:
            naive = cleaned.get(name)
            if naive is None:
                continue
            aware = naive.replace(tzinfo=zone)
            if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
                self.add_error(
                    name,
                    f"{naive:%H:%M} does not exist on {naive:%d %B %Y} in {zone_name}: the clocks "
                    "change then. Choose a time an hour earlier or later.",
                )
                cleaned.pop(name, None)
                continue
            cleaned[name] = aware.astimezone(UTC)
        start, end, deadline = (
            cleaned.get("start"),
            cleaned.get("end"),
            cleaned.get("rsvp_deadline"),
        )
        if start and end and end <= start:
            self.add_error("end", "The event must end after it starts.")
        if deadline and end and deadline >= end:
            self.add_error("rsvp_deadline", "The RSVP deadline must be before the event ends.")
        # The state's choices are only the moves TRANSITIONS allows (set in __init__).
        return cleaned


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")
