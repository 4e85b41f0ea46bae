"""The editors' list of topics (members pick up to three when they submit)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count

from newsletter import permissions
from newsletter.models import Topic
from newsletter.services.topics import topic_save


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

    def save_model(self, request, obj, form, change):
        rerendered = topic_save(topic=obj, actor=request.user)
        if rerendered:
            messages.info(
                request,
                f"{rerendered} published issue{'s' if rerendered != 1 else ''} now show the "
                "new name.",
            )
