"""The review queue's rows, written in one pass over the page's submissions.

Django admin renders a changelist cell by cell: for each of the hundred rows it looks every
column up (`lookup_field`), passes each value through `display_for_value` and `format_html`,
and builds the row link with the preserved filters by reversing and re-parsing a URL. That was
most of the queue's time. Here each row is one f-string, every value through `escape`, and what
is the same on every row (the link around the title, the checkbox's label, the vote forms'
address and CSRF token) is worked out once per page.

The HTML is the admin's, byte for byte (tests/newsletter/admin/test_review_rows.py compares
the two), so the stylesheet, static/js/review.js and Django's actions.js work unchanged. A
column this module does not know, a popup or editable rows fall back to Django's own rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import datetime
from html import escape

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.templatetags.admin_list import result_headers
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import quote
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince
from django.utils.translation import gettext

from ..models import Submission
from .review_display import duplicate_warnings, endorsements_html, link_host, summary_excerpt

# What the rows read of each submission and its submitter (with the annotations of the
# admin's queryset): the original texts and the fetched details stay in the database.
QUEUE_FIELDS = (
    "id",
    "author",
    "url",
    "canonical_key",
    "kind",
    "title",
    "summary_html",
    "state",
    "created_at",
    "author__id",
    "author__display_name",
    "author__email",
    "author__username",
)
# A stand-in primary key: the change URL is reversed once with it, then split around it.
_PK_MARK = "0pk0"


@functools.lru_cache(maxsize=4096)
def _excerpt(summary_html: str) -> str:
    """`summary_excerpt` depends on the summary's HTML alone: worked out once per summary."""
    return summary_excerpt(Submission(summary_html=summary_html))


class _Page:
    """What every row of one page shares."""

    def __init__(self, cl, changelist_url: str):
        self.changelist_url = changelist_url
        self.now = timezone.now()
        self.select_label = gettext("Select this object for an action - {}")
        url = reverse(
            f"admin:{cl.opts.app_label}_{cl.opts.model_name}_change",
            args=(_PK_MARK,),
            current_app=cl.model_admin.admin_site.name,
        )
        url = add_preserved_filters(
            {"preserved_filters": cl.preserved_filters, "opts": cl.opts}, url
        )
        self.link_before, _, self.link_after = (escape(part) for part in url.partition(_PK_MARK))

    def link(self, obj: Submission) -> str:
        return f"{self.link_before}{escape(str(quote(obj.pk)))}{self.link_after}"


def _checkbox(page: _Page, obj: Submission) -> str:
    label = page.select_label.format(escape(str(obj)))
    return (
        f'<input type="checkbox" name="{ACTION_CHECKBOX_NAME}" value="{obj.pk}" '
        f'class="action-select" aria-label="{label}">'
    )


def _title(page: _Page, obj: Submission) -> str:
    excerpt = _excerpt(obj.summary_html)
    if excerpt:
        excerpt = f'<span class="review-excerpt">{escape(excerpt)}</span>'
    return (
        f'{escape(obj.title or obj.url)}<span class="review-host">{escape(link_host(obj.url))}'
        f"</span>{excerpt}{endorsements_html(obj.endorsement_list)}"
    )


def _duplicates(page: _Page, obj: Submission) -> str:
    return duplicate_warnings(page.changelist_url, obj) if obj.same_link or obj.same_title else ""


def _age(now: datetime, created: datetime) -> str:
    return (
        f'<time datetime="{escape(created.isoformat())}" '
        f'title="{timezone.localtime(created).strftime("%Y-%m-%d %H:%M")}">'
        f"{escape(timesince(created, now, depth=1))}</time>"
    )


def _details(page: _Page, obj: Submission) -> str:
    author = obj.author
    return (
        f'<span class="review-details">{escape(obj.get_kind_display())} · '
        f'{escape(author.public_name)}<span class="review-host">{escape(author.email)}</span> · '
        f"{_age(page.now, obj.created_at)}</span>{_duplicates(page, obj)}"
    )


def _state(page: _Page, obj: Submission) -> str:
    return (
        f'<span data-review-cell="state" data-submission="{obj.pk}">'
        f"{escape(obj.get_state_display())}</span>"
    )


# Each column the queue shows: how its cell opens, and what is inside.
CELLS: dict[str, Callable[[_Page, Submission], str]] = {
    "action_checkbox": _checkbox,
    "title_cell": _title,
    "details": _details,
    "state_cell": _state,
    "tally": lambda page, obj: obj.tally_html,
    "my_vote_cell": lambda page, obj: obj.my_vote_html,
}


def can_write_rows(cl) -> bool:
    """Rows this module writes exactly as the admin would; anything else is left to Django."""
    return (
        not cl.is_popup
        and not cl.formset
        and not cl.to_field
        and all(name in CELLS for name in cl.list_display)
        and list(cl.list_display_links or ()) == ["title_cell"]
    )


def queue_rows(cl, changelist_url: str) -> SafeString:
    """The `<tr>` of every submission on the page, as Django admin's result list writes them."""
    page = _Page(cl, changelist_url)
    cells = []
    for name in cl.list_display:
        if name == "action_checkbox":
            cells.append(('<td class="action-checkbox">', CELLS[name], "</td>", False))
        elif name == "title_cell":
            cells.append(('<th class="field-title_cell">', CELLS[name], "</th>", True))
        else:
            cells.append((f'<td class="field-{name}">', CELLS[name], "</td>", False))
    rows = []
    for obj in cl.result_list:
        parts = ["<tr>"]
        for opening, cell, closing, linked in cells:
            inner = cell(page, obj)
            if linked:
                inner = f'<a href="{page.link(obj)}">{inner}</a>'
            parts += (opening, inner, closing)
        parts.append("</tr>")
        rows.append("".join(parts))
    return mark_safe("\n".join(rows))  # noqa: S308  (every value above is escaped)


def queue_results(cl, changelist_url: str) -> dict:
    """The context of the result list's template: Django's headers, our rows."""
    headers = list(result_headers(cl))
    return {
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "rows": queue_rows(cl, changelist_url),
    }


def vote_forms(submissions: Iterable[Submission], request) -> SafeString:
    """One form per row the viewer may vote on; its buttons and comment point at it by id
    (forms cannot nest inside the changelist's own form)."""
    token = escape(get_token(request))
    back = escape(request.get_full_path())
    address = reverse("admin:newsletter_submission_vote", args=[0]).rpartition("0/vote/")[0]
    user_pk = request.user.pk
    return mark_safe(  # noqa: S308  (every value is escaped or a number)
        "\n".join(
            f'<form id="review-vote-{obj.pk}" class="review-vote-form" data-review-async '
            f'method="post" action="{escape(address)}{obj.pk}/vote/">'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
            f'<input type="hidden" name="next" value="{back}"></form>'
            for obj in submissions
            if obj.viewer_can_vote
            and obj.state == Submission.State.PENDING
            and obj.author_id != user_pk
        )
    )
