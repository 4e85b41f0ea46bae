"""The review queue's filters: state (pending by default), age, and "not yet voted by me"."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.utils import timezone

from newsletter import permissions

from ..models import Submission

State = Submission.State


class StateFilter(admin.SimpleListFilter):
    """Defaults to "waiting for review": the queue is what still needs a decision."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [*State.choices, ("all", "All")]

    def _current(self) -> str:
        value = self.value()
        return value if value in State.values or value == "all" else State.PENDING

    def queryset(self, request, queryset):
        current = self._current()
        return queryset if current == "all" else queryset.filter(state=current)

    def choices(self, changelist):
        current = self._current()
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    RANGES = {
        "day": ("Less than a day", None, timedelta(days=1)),
        "week": ("1 to 7 days", timedelta(days=1), timedelta(days=7)),
        "month": ("1 to 4 weeks", timedelta(days=7), timedelta(days=28)),
        "older": ("Older than 4 weeks", timedelta(days=28), None),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in self.RANGES.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.RANGES:
            return queryset
        _, older_than, younger_than = self.RANGES[self.value()]
        now = timezone.now()
        if older_than is not None:
            queryset = queryset.filter(created_at__lte=now - older_than)
        if younger_than is not None:
            queryset = queryset.filter(created_at__gt=now - younger_than)
        return queryset


class MyVoteFilter(admin.SimpleListFilter):
    """Shown to editors only: what is still waiting for my vote."""

    title = "my vote"
    parameter_name = "my_vote"

    def lookups(self, request, model_admin):
        if not permissions.can_vote(request.user):
            return []
        return [("none", "Not yet voted by me"), ("voted", "Voted by me")]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(my_vote__isnull=True).exclude(author=request.user)
        if self.value() == "voted":
            return queryset.filter(my_vote__isnull=False)
        return queryset
