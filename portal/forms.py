"""Forms of the members' side: the profile."""

import zoneinfo

from django import forms
from django.core.exceptions import ValidationError

from .models import User

COMMON_TIMEZONES = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})


class ProfileForm(forms.ModelForm):
    timezone = forms.ChoiceField(
        choices=[(tz, tz.replace("_", " ")) for tz in COMMON_TIMEZONES],
        help_text="Event times are shown in this time zone.",
    )

    class Meta:
        model = User
        fields = ["display_name", "discord_handle", "timezone", "credit_me"]

    def clean_discord_handle(self):
        handle = self.cleaned_data["discord_handle"].strip().lstrip("@")
        if handle and not all(c.isalnum() or c in "._" for c in handle):
            raise ValidationError(
                "A Discord handle has only letters, digits, dots and underscores."
            )
        return handle
