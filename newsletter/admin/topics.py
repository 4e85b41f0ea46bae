"""The editors' list of topics (members pick up to three when they submit)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import path

from newsletter import permissions
from newsletter.models import TOPICS_PER_SUBMISSION, Submission, Topic
from newsletter.services.topics import submission_topics_set, topic_delete, topic_save


class SubmissionTopicsForm(forms.Form):
    """The review page's topics of a published item."""

    topics = forms.ModelMultipleChoiceField(
        queryset=Topic.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=f"Up to {TOPICS_PER_SUBMISSION}. Saving re-renders the item's issue.",
    )


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "description", "submission_count", "position"]
    list_editable = ["position"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "description"]
    view_on_site = True

    def has_module_permission(self, request) -> bool:
        return permissions.can_review(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return permissions.can_review(request.user)

    def has_add_permission(self, request) -> bool:
        return permissions.can_decide(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return permissions.can_decide(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return permissions.can_decide(request.user)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(submission_count=Count("submissions"))

    @admin.display(description="submissions", ordering="submission_count")
    def submission_count(self, topic: Topic) -> int:
        return topic.submission_count

    def get_urls(self):
        view = self.admin_site.admin_view(self.submission_topics_view)
        return [
            path("set/<int:pk>/", view, name="newsletter_topic_set"),
            *super().get_urls(),
        ]

    def submission_topics_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Set a (published) submission's topics from its review page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        submission = get_object_or_404(Submission, pk=pk)
        back = redirect("admin:newsletter_submission_change", submission.pk)
        form = SubmissionTopicsForm(request.POST)
        if not form.is_valid():
            self.message_user(request, " ".join(form.errors["topics"]), messages.ERROR)
            return back
        try:
            changed = submission_topics_set(
                submission=submission, topics=form.cleaned_data["topics"], actor=request.user
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return back
        self.message_user(
            request,
            "Topics saved." if changed else "The topics were already these.",
            messages.SUCCESS,
        )
        return back

    def save_model(self, request, obj, form, change):
        rerendered = topic_save(topic=obj, actor=request.user)
        if rerendered:
            messages.info(
                request,
                f"{rerendered} published issue{'s' if rerendered != 1 else ''} now show the "
                "new name.",
            )

    def delete_model(self, request, obj):
        topic_delete(topic=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for topic in queryset:
            topic_delete(topic=topic, actor=request.user)
