"""Forms of the members' side: the profile, and the site's Markdown editor."""

import re
import zoneinfo

from django import forms
from django.core.exceptions import ValidationError
from markdownx.widgets import MarkdownxWidget

from .models import User
from .text import one_line
from .timezones import UTC, zone_choices

# "Ada (editor)", "Grace [admin]", "mod - Alan": a name that reads as a role on the site.
_ROLE_CLAIM = re.compile(
    r"[(\[{|·•\-–—:]\s*(editor|admin|administrator|moderator|mod|staff|team|official)\b"
    r"|\b(editor|admin|administrator|moderator|staff|official)\s*[)\]}]",
    re.IGNORECASE,
)


# Every name Python knows (aliases too): the organisers' event form. Members choose from
# portal.timezones' canonical list instead.
COMMON_TIMEZONES = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})


class ProfileForm(forms.ModelForm):
    timezone = forms.ChoiceField(
        help_text="Event times are shown in this time zone. The time now is beside each place.",
        widget=forms.Select(attrs={"data-timezone-picker": ""}),
    )

    # Not a field of the member: the email list's entry for their address (views.profile).
    email_issues = forms.BooleanField(
        required=False,
        label="Email me each issue",
        help_text="The newsletter in your inbox at your account's address; one click to stop.",
    )

    class Meta:
        model = User
        fields = [
            "display_name",
            "discord_handle",
            "timezone",
            "credit_me",
            "show_when_going",
            "email_decisions",
            "email_reminders",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.timezone if self.instance else ""
        field = self.fields["timezone"]
        field.choices = zone_choices(current=current)
        if (current or UTC) == UTC and not self.is_bound:
            # Never chosen (UTC is the default): timezone.js proposes the browser's zone.
            field.widget.attrs["data-browser-default"] = ""

    def clean_display_name(self):
        name = one_line(self.cleaned_data["display_name"])
        if _ROLE_CLAIM.search(name):
            raise ValidationError(
                "A name cannot claim a role such as “(editor)” or “admin”: readers would take "
                "it for the site's word. Please choose another."
            )
        return name

    def clean_discord_handle(self):
        handle = self.cleaned_data["discord_handle"].strip().lstrip("@")
        if handle and not all(c.isalnum() or c in "._" for c in handle):
            raise ValidationError(
                "A Discord handle has only letters, digits, dots and underscores."
            )
        return handle


class DeleteAccountForm(forms.Form):
    """Deleting an account is confirmed with the password (or, without one, the address)."""

    password = forms.CharField(
        label="Your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        strip=False,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.has_usable_password():
            self.fields["password"] = forms.CharField(
                label="Your email address",
                help_text="You have no password here (you sign in with another service).",
            )

    def clean_password(self):
        value = self.cleaned_data["password"]
        if self.user.has_usable_password():
            if not self.user.check_password(value):
                raise ValidationError("That is not your password; nothing was deleted.")
        elif value.strip().lower() != self.user.email.lower():
            raise ValidationError("That is not your account's address; nothing was deleted.")
        return value


class MarkdownEditor(MarkdownxWidget):
    """markdownx's editor and live preview, without its image upload.

    markdownx posts every file dropped or pasted into the editor to the upload address it
    names. The site keeps no uploads (nh3 drops <img>, nothing serves /media/), so the editor
    names none, and js/markdown-editor.js keeps files from reaching markdownx's handlers.
    Every Markdown field uses this widget; markdownx's own would bring the upload back.
    """

    UPLOAD_ATTRIBUTE = "data-markdownx-upload-urls-path"

    @staticmethod
    def add_markdownx_attrs(attrs):
        attrs = MarkdownxWidget.add_markdownx_attrs(attrs)
        attrs.pop(MarkdownEditor.UPLOAD_ATTRIBUTE, None)
        return attrs

    class Media:
        js = ["js/markdown-editor.js"]
