"""Discord channels and the progress of deliveries, in the editors' admin.

The webhook URL is asked for once and parsed into id and token; the token is never shown
again (only its last four characters). "Send a test message" and "Check" answer at once.
Deliveries show their progress, their errors, and offer "retry failed" and "update on Discord".
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from newsletter.discord.urls import WebhookURLError, parse_webhook_url
from newsletter.services.channels import channel_check, channel_send_test
from newsletter.services.corrections import delivery_correct
from newsletter.services.delivery import (
    TEST_KEY_PREFIX,
    DeliveryBusy,
    deliveries_with_progress,
    delivery_retry,
    issue_delivery_key,
)

from ..models import Delivery, DeliveryMessage, DiscordChannel
from ..rendering import issue_discord_messages

# --- Channels ------------------------------------------------------------------------------------


class DiscordChannelForm(forms.ModelForm):
    webhook_url = forms.CharField(
        label="Webhook URL",
        required=False,
        strip=True,
        max_length=500,
        # Never rendered back: the page must not carry the token.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=(
            "In Discord: channel settings → Integrations → Webhooks → Copy Webhook URL. "
            "It is kept secret: after saving, only its last four characters are shown."
        ),
    )

    avatar_url = forms.URLField(
        label="Avatar URL",
        required=False,
        assume_scheme="https",
        help_text="Picture shown on the messages; empty: the webhook's own.",
    )

    class Meta:
        model = DiscordChannel
        fields = [
            "name",
            "webhook_url",
            "thread_id",
            "forum",
            "username",
            "avatar_url",
            "active",
            "receives_issues",
            "receives_reminders",
            "link_previews",
        ]
        help_texts = {
            "thread_id": "To post in a thread of the channel: the thread's id (digits).",
            "username": "Name shown on the messages; empty: the webhook's own name.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.webhook_token:
            self.fields["webhook_url"].help_text = (
                f"Current webhook: id {self.instance.webhook_id}, token "
                f"{self.instance.token_hint}. Leave empty to keep it; paste a new URL to replace it."
            )
        else:
            self.fields["webhook_url"].required = True
        self.address = None

    def clean_webhook_url(self) -> str:
        value = self.cleaned_data["webhook_url"]
        if not value:
            return ""
        try:
            self.address = parse_webhook_url(value)
        except WebhookURLError as exc:
            raise ValidationError(str(exc)) from None
        return ""  # the secret does not travel any further in the form's data

    def clean_thread_id(self) -> str:
        value = (self.cleaned_data.get("thread_id") or "").strip()
        if value and not value.isdigit():
            raise ValidationError("A thread id is made of digits only.")
        return value

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("forum") and cleaned.get("thread_id"):
            raise ValidationError(
                "A forum channel opens a post per item: leave the thread id empty."
            )
        if self.address and self.address.thread_id and not cleaned.get("thread_id"):
            cleaned["thread_id"] = self.address.thread_id
        webhook_id = self.address.webhook_id if self.address else self.instance.webhook_id
        if webhook_id:
            taken = (
                DiscordChannel.objects.filter(
                    webhook_id=webhook_id, thread_id=cleaned.get("thread_id", "")
                )
                .exclude(pk=self.instance.pk)
                .first()
            )
            if taken is not None:
                raise ValidationError(
                    f"The channel “{taken}” already posts with this webhook"
                    + (" to this thread." if cleaned.get("thread_id") else ".")
                )
        return cleaned

    def save(self, commit=True):
        channel = super().save(commit=False)
        if self.address is not None:
            channel.webhook_id = self.address.webhook_id
            channel.webhook_token = self.address.token
        if channel.active:
            channel.deactivated_reason = ""
        if commit:
            channel.save()
        return channel


@admin.register(DiscordChannel)
class DiscordChannelAdmin(admin.ModelAdmin):
    form = DiscordChannelForm
    change_list_template = "admin/newsletter/channels/channel_change_list.html"
    change_form_template = "admin/newsletter/channels/channel_change_form.html"
    list_display = [
        "name",
        "status",
        "receives_issues",
        "receives_reminders",
        "thread_id",
        "webhook",
    ]
    list_filter = ["active", "receives_issues", "receives_reminders"]
    search_fields = ["name"]
    readonly_fields = ["webhook", "guild_id", "deactivated_reason", "created_at"]
    actions = ["send_test_message", "check_webhook"]
    fieldsets = [
        (None, {"fields": ["name", "webhook_url", "webhook", "thread_id", "forum", "guild_id"]}),
        ("How messages look", {"fields": ["username", "avatar_url", "link_previews"]}),
        (
            "What it receives",
            {"fields": ["active", "deactivated_reason", "receives_issues", "receives_reminders"]},
        ),
    ]

    @admin.display(description="webhook")
    def webhook(self, channel: DiscordChannel) -> str:
        if not channel.webhook_id:
            return "—"
        return f"id {channel.webhook_id}, token {channel.token_hint}"

    @admin.display(description="status", ordering="active")
    def status(self, channel: DiscordChannel) -> str:
        if channel.active:
            return "Active"
        return "Switched off" + (
            f": {channel.deactivated_reason}" if channel.deactivated_reason else ""
        )

    def get_urls(self):
        urls = super().get_urls()
        own = [
            path(
                "<int:pk>/test/",
                self.admin_site.admin_view(self.test_view),
                name="newsletter_discordchannel_test",
            ),
            path(
                "<int:pk>/check/",
                self.admin_site.admin_view(self.check_view),
                name="newsletter_discordchannel_check",
            ),
        ]
        return own + urls

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "inactive_channels": inactive_channels()}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "inactive_channels": inactive_channels()}
        return super().change_view(request, object_id, form_url, extra_context)

    # The two checks make a request to Discord while the editor waits: never inside the
    # admin's save transaction, so they are separate POST views and list actions.

    def test_view(self, request: HttpRequest, pk: int):
        channel = self._channel_for_post(request, pk)
        if not isinstance(channel, DiscordChannel):
            return channel
        self._test(request, channel)
        return HttpResponseRedirect(reverse("admin:newsletter_discordchannel_change", args=[pk]))

    def check_view(self, request: HttpRequest, pk: int):
        channel = self._channel_for_post(request, pk)
        if not isinstance(channel, DiscordChannel):
            return channel
        self._check(request, channel)
        return HttpResponseRedirect(reverse("admin:newsletter_discordchannel_change", args=[pk]))

    def _channel_for_post(self, request: HttpRequest, pk: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        channel = get_object_or_404(DiscordChannel, pk=pk)
        if not self.has_change_permission(request, channel):
            raise PermissionDenied
        return channel

    @admin.action(description="Send a test message", permissions=["change"])
    def send_test_message(self, request, queryset):
        for channel in queryset:
            self._test(request, channel)

    @admin.action(description="Check the webhook with Discord", permissions=["change"])
    def check_webhook(self, request, queryset):
        for channel in queryset:
            self._check(request, channel)

    def _test(self, request, channel: DiscordChannel) -> None:
        result = channel_send_test(channel=channel, actor=request.user)
        if result.state == Delivery.State.SENT:
            messages.success(request, f"“{channel}”: test message posted. Look in the channel.")
        elif result.state == Delivery.State.PENDING and not result.last_error:
            messages.info(
                request,
                f"“{channel}” is receiving another delivery right now: the test message "
                "follows it.",
            )
        else:
            messages.error(request, f"“{channel}”: the test message failed. {result.last_error}")

    def _check(self, request, channel: DiscordChannel) -> None:
        check = channel_check(channel=channel)
        if check.ok:
            messages.success(request, f"“{channel}” works. {check.detail}")
        else:
            messages.error(request, f"“{channel}” does not work. {check.detail}")


def inactive_channels():
    return list(
        DiscordChannel.objects.filter(active=False).only("pk", "name", "deactivated_reason")
    )


# --- Deliveries ----------------------------------------------------------------------------------


class DeliveryMessageInline(admin.TabularInline):
    model = DeliveryMessage
    extra = 0
    can_delete = False
    fields = [
        "position_shown",
        "state",
        "length",
        "attempts",
        "discord_message_id",
        "forum_post",
        "sent_at",
        "problem",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="#")
    def position_shown(self, message: DeliveryMessage) -> int:
        return message.position + 1

    @admin.display(description="forum post")
    def forum_post(self, message: DeliveryMessage) -> str:
        """A forum channel's post: its thread's name, and the thread once posted."""
        if not message.thread_name:
            return "(in its thread)" if message.thread_id else ""
        return message.thread_name + (f" (thread {message.thread_id})" if message.thread_id else "")

    @admin.display(description="length")
    def length(self, message: DeliveryMessage) -> int:
        return len(message.content)

    @admin.display(description="problem")
    def problem(self, message: DeliveryMessage) -> str:
        notes = []
        if message.maybe_duplicate:
            notes.append(
                "Posted again after an attempt that got no answer: the channel may show it twice."
            )
        if message.reposted_at:
            notes.append(
                "Deleted in Discord, so posted again as a new message: it now comes after the "
                "messages that followed it."
            )
        if message.last_error:
            notes.append(message.last_error)
        return " ".join(notes) or "—"


class NeedsUpdateFilter(admin.SimpleListFilter):
    title = "corrected since delivery"
    parameter_name = "corrected"

    def lookups(self, request, model_admin):
        return [("yes", "Issue corrected since")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(issue__corrected_at__gt=F("updated_at"))
        return queryset


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    change_list_template = "admin/newsletter/channels/delivery_change_list.html"
    list_display = [
        "subject",
        "channel",
        "status",
        "progress",
        "errors",
        "created_at",
        "finished_at",
    ]
    list_filter = ["state", NeedsUpdateFilter, "channel"]
    list_select_related = ["channel", "issue"]
    search_fields = ["key", "channel__name", "issue__title"]
    date_hierarchy = "created_at"
    actions = ["retry_failed", "update_on_discord"]
    inlines = [DeliveryMessageInline]
    fields = [
        "subject",
        "channel",
        "status",
        "progress",
        "last_error",
        "created_at",
        "updated_at",
        "finished_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return deliveries_with_progress(super().get_queryset(request))

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # The list's actions need the permission; a delivery's own page is only to read.
        return obj is None and super().has_change_permission(request)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "inactive_channels": inactive_channels()}
        return super().changelist_view(request, extra_context)

    @admin.display(description="what")
    def subject(self, delivery: Delivery) -> str:
        if delivery.issue_id:
            corrected = delivery.issue.corrected_at
            note = (
                " (corrected since: update on Discord)"
                if corrected and corrected > delivery.updated_at
                else ""
            )
            return f"Issue #{delivery.issue.number} {delivery.issue.title}{note}"
        if delivery.key.startswith(TEST_KEY_PREFIX):
            return "Test message"
        return delivery.key

    @admin.display(description="progress")
    def progress(self, delivery: Delivery) -> str:
        total = getattr(delivery, "total_count", None)
        sent = getattr(delivery, "sent_count", None)
        if total is None:
            total = delivery.messages.exclude(state=DeliveryMessage.State.DELETED).count()
            sent = delivery.messages.filter(state=DeliveryMessage.State.SENT).count()
        return format_html(
            '<progress value="{}" max="{}" aria-label="{} of {} messages sent">{} of {}</progress>'
            " {} of {} sent",
            sent,
            max(total, 1),
            sent,
            total,
            sent,
            total,
            sent,
            total,
        )

    @admin.display(description="state", ordering="state")
    def status(self, delivery: Delivery) -> str:
        """The state; for a delivery not done yet, also what it waits for."""
        state = f"{delivery.get_state_display()}."
        if delivery.state not in (Delivery.State.PENDING, Delivery.State.SENDING):
            return state
        now = timezone.now()
        if delivery.queue_failed_at:
            since = timezone.localtime(delivery.queue_failed_at)
            return (
                f"{state} Waiting for the task queue, unreachable since {since:%H:%M}: "
                "queued as soon as it is back."
            )
        if getattr(delivery, "waiting", False):
            return f"{state} Waiting for the delivery before it to this channel."
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            when = timezone.localtime(delivery.next_attempt_at)
            why = "retry" if delivery.last_error else "after Discord's rate limit"
            return f"{state} Next attempt ({why}) at {when:%H:%M:%S}."
        if delivery.lease_expires_at and delivery.lease_expires_at > now:
            return state
        if delivery.state == Delivery.State.SENDING:
            return f"{state} Interrupted (its worker stopped): the sweeper resumes it."
        return state

    @admin.display(description="errors")
    def errors(self, delivery: Delivery) -> str:
        parts = []
        duplicates = getattr(delivery, "duplicate_count", 0)
        if duplicates:
            parts.append(f"{duplicates} may appear twice.")
        if delivery.last_error:
            parts.append(Truncator(delivery.last_error).chars(200))
        return " ".join(parts) or "—"

    @admin.action(description="Retry failed messages", permissions=["change"])
    def retry_failed(self, request, queryset):
        retried = 0
        for delivery in queryset.filter(
            Q(state=Delivery.State.FAILED) | Q(state=Delivery.State.PENDING)
        ).select_related("channel"):
            try:
                if delivery_retry(delivery=delivery):
                    retried += 1
            except ValueError as exc:
                messages.error(request, str(exc))
        if retried:
            messages.success(
                request, f"{retried} deliver{'y' if retried == 1 else 'ies'} queued again."
            )
        else:
            messages.info(request, "Nothing to retry: select failed or waiting deliveries.")

    @admin.action(description="Update on Discord (after a correction)", permissions=["change"])
    def update_on_discord(self, request, queryset):

        contents_by_issue: dict[int, list[str]] = {}
        for delivery in queryset.select_related("issue", "channel"):
            if delivery.issue is None or delivery.key != issue_delivery_key(delivery.issue):
                messages.info(request, f"{self.subject(delivery)}: only issues can be updated.")
                continue
            if delivery.issue_id not in contents_by_issue:
                contents_by_issue[delivery.issue_id] = issue_discord_messages(delivery.issue)
            try:
                correction = delivery_correct(
                    delivery=delivery, contents=contents_by_issue[delivery.issue_id]
                )
            except DeliveryBusy as exc:
                messages.warning(request, str(exc))
                continue
            if correction.changed:
                # Without a broker the run is over already: say what it found.
                delivery.refresh_from_db(fields=["state", "last_error"])
                done = delivery.state == Delivery.State.SENT and delivery.last_error
                messages.success(
                    request,
                    f"“{delivery.channel}”: {correction}; queued for Discord."
                    + (f" {delivery.last_error}" if done else ""),
                )
            else:
                messages.info(request, f"“{delivery.channel}”: already up to date.")
