"""The items table of the compose page as a formset: one form per item of the issue.

The formset only reads what the editor chose (section, order, blurb, remove, ↑/↓) and turns it
into `ItemChange`s; `issue_items_update` does every write. Bad input is a form error shown next
to the item, or, when the page no longer matches the issue, one message for the whole table.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms.formsets import DELETION_FIELD_NAME, ORDERING_FIELD_NAME
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from newsletter.services.compose import (
    BLURB_MAX_LENGTH,
    ItemChange,
    issue_pool,
    section_for_kind,
)

from ..models import Issue, IssueItem, Kind, Section, Submission

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
# The order is a sort key within the section (1.5 goes between 1 and 2); the page numbers each
# section 1, 2, 3... and ↑/↓ step half a place past the neighbour.
ORDER_MAX = 1000
MOVE_STEP = 1.5

STALE = (
    "The items on this page no longer match the issue (someone changed it meanwhile, or the "
    "page is incomplete). Nothing was saved; the issue is shown below as it is now."
)


class ItemForm(forms.Form):
    """One item: which one (hidden), its section and its blurb; the formset adds ORDER, DELETE."""

    id = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    section = forms.TypedChoiceField(coerce=int, choices=())
    blurb = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 50, "maxlength": BLURB_MAX_LENGTH}),
    )

    def __init__(self, *args, sections: Sequence[Section], item: IssueItem | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.item = item  # None when the posted id is no item of this issue
        self.fields["section"].choices = [(section.pk, section.heading) for section in sections]
        if item is not None:
            summary = item.submission.summary if item.submission_id else "No blurb"
            self.fields["blurb"].widget.attrs["placeholder"] = summary

    def clean_blurb(self) -> str:
        # Checked only when it changes: a longer blurb saved before the limit can stay.
        blurb = self.cleaned_data["blurb"]
        unchanged = self.item is not None and blurb == self.item.blurb.strip()
        if len(blurb) > BLURB_MAX_LENGTH and not unchanged:
            raise ValidationError(
                f"A blurb has at most {BLURB_MAX_LENGTH} characters (this one has {len(blurb)}).",
                code="max_length",
            )
        return blurb


class BaseItemFormSet(forms.BaseFormSet):
    """The items of one issue, in the page's order; `item_changes()` is what the editor asked."""

    default_error_messages = {
        "missing_management_form": (
            "The items arrived without the form's hidden bookkeeping fields, so nothing was "
            "saved. The issue is shown below as it is now: make your changes again."
        ),
    }

    def __init__(
        self,
        data=None,
        *,
        items: Sequence[IssueItem],
        sections: Sequence[Section],
        **kwargs,
    ):
        self.items = {item.pk: item for item in items}
        self.sections = sections
        initial = None
        if data is None:
            initial, counters = [], {}
            for item in items:  # numbered 1, 2, 3... within each section, as the page shows
                counters[item.section_id] = counters.get(item.section_id, 0) + 1
                initial.append(
                    {
                        "id": item.pk,
                        "section": item.section_id,
                        "blurb": item.blurb,
                        ORDERING_FIELD_NAME: counters[item.section_id],
                    }
                )
        super().__init__(data, initial=initial, prefix="items", **kwargs)

    def get_form_kwargs(self, index):
        return {"sections": self.sections, "item": self._item_at(index)}

    def _item_at(self, index: int | None) -> IssueItem | None:
        if index is None:
            return None
        if self.is_bound:
            raw = self.data.get(f"{self.add_prefix(index)}-id")
        else:
            raw = self.initial[index]["id"] if index < len(self.initial) else None
        try:
            return self.items.get(int(raw))
        except (TypeError, ValueError):
            return None

    def add_fields(self, form, index):
        super().add_fields(form, index)
        # Whole numbers would do for Django's ordering; the page has always taken 1.5 as well.
        form.fields[ORDERING_FIELD_NAME] = forms.FloatField(
            label="Order",
            required=False,
            min_value=0,
            max_value=ORDER_MAX,
            widget=forms.NumberInput(attrs={"step": "any", "size": 3, "class": "vIntegerField"}),
        )
        if DELETION_FIELD_NAME in form.fields:
            form.fields[DELETION_FIELD_NAME].label = "Remove"

    def clean(self):
        """Each form names a different item of this issue, and the page adds none; anything else
        is a stale or tampered page."""
        if not self.management_form.is_valid():
            return  # already said; an error raised here would replace that message
        if self.initial_form_count() != self.total_form_count():
            raise ValidationError(STALE, code="stale")
        seen = set()
        for form in self.forms:
            if form.item is None or form.item.pk in seen:
                raise ValidationError(STALE, code="stale")
            seen.add(form.item.pk)

    def item_changes(self) -> list[ItemChange]:
        """The valid formset as changes; a ↑/↓ button ("move" = "<item id>:up") moves one item."""
        move_id, _, direction = str(self.data.get("move", "")).partition(":")
        changes = []
        for form in self.forms:
            if form.item is None:
                continue
            data = form.cleaned_data
            position = data.get(ORDERING_FIELD_NAME)
            if move_id == str(form.item.pk) and direction in ("up", "down"):
                if position is None:
                    position = form.item.position + 1
                position += -MOVE_STEP if direction == "up" else MOVE_STEP
            changes.append(
                ItemChange(
                    item_id=form.item.pk,
                    section_id=data.get("section"),
                    position=position,
                    blurb=data.get("blurb"),
                    remove=bool(data.get(DELETION_FIELD_NAME)),
                )
            )
        return changes


ItemFormSet = forms.formset_factory(
    ItemForm, formset=BaseItemFormSet, extra=0, can_order=True, can_delete=True
)


# What `pool_rows` reads of each submission.
POOL_FIELDS = (
    "id",
    "url",
    "title",
    "kind",
    "state_changed_at",
    "author__id",
    "author__display_name",
    "author__email",
    "author__username",
)


# A longer search is no title anyone typed; it is cut, not refused.
POOL_SEARCH_MAX = 200


def pool_context(query: dict, issue: Issue, sections: Sequence[Section], *, path: str) -> dict:
    """The pool as the compose page shows it: one page of NEWSLETTER_POOL_PAGE_SIZE rows
    (`pool_page` in the query string, oldest first), narrowed by `pool_q` when given.

    Two queries (the count, the page's rows) whatever the pool's size, and never more rows
    than a page: "Fill" adds the whole pool, the page only shows it."""
    search = str(query.get("pool_q", ""))[:POOL_SEARCH_MAX].replace("\x00", "").strip()
    pool = issue_pool(issue=issue, search=search).only(*POOL_FIELDS)
    page = Paginator(pool, settings.NEWSLETTER_POOL_PAGE_SIZE).get_page(query.get("pool_page"))

    def link(number: int) -> str:
        return f"{path}?{urlencode({'pool_q': search, 'pool_page': number})}#pool"

    return {
        "pool_count": page.paginator.count,
        "pool_rows": pool_rows(page.object_list, sections),
        "pool_search": search,
        "pool_page": page,
        # Oldest first: the next page holds the more recently accepted ones.
        "pool_previous": link(page.previous_page_number()) if page.has_previous() else "",
        "pool_next": link(page.next_page_number()) if page.has_next() else "",
    }


def pool_rows(pool: Sequence[Submission], sections: Sequence[Section]) -> str:
    """The pool's table rows: a tick box, the submission, its section, when it was accepted.

    Written directly (every value through `escape`), the section choices once for each
    default section: the pool holds hundreds of accepted submissions, and a template loop
    over the sections in each of them was nearly all of the page's time."""
    choices = [section for section in sections if not section.collects_events]
    options: dict[int | None, str] = {}
    for default in {section_for_kind(kind, sections=sections) for kind in Kind.values} | {None}:
        key = default.pk if default is not None else None
        options[key] = "".join(
            f'<option value="{choice.pk}"{" selected" if choice.pk == key else ""}>'
            f"{escape(choice.heading)}</option>"
            for choice in choices
        )
    defaults = {kind: section_for_kind(kind, sections=sections) for kind in Kind.values}
    kinds = dict(Kind.choices)
    rows = []
    for submission in pool:
        pk, name = submission.pk, escape(str(submission))
        default = defaults.get(submission.kind)
        accepted = submission.state_changed_at
        if accepted is not None:
            accepted = timezone.localtime(accepted)
            accepted = f"{accepted.day} {MONTHS[accepted.month - 1]} {accepted.year}"
        rows.append(
            "<tr>"
            f'<td><label class="visually-hidden" for="add-{pk}">Add {name}</label>'
            f'<input type="checkbox" id="add-{pk}" name="add" value="{pk}"></td>'
            f'<td><a href="{escape(submission.url)}">{escape(submission.title or submission.url)}'
            f'</a><br><span class="help">{escape(kinds.get(submission.kind, submission.kind))} · '
            f"shared by {escape(submission.author.public_name)}</span></td>"
            f'<td><label class="visually-hidden" for="section-for-{pk}">Section for {name}</label>'
            f'<select id="section-for-{pk}" name="section-for-{pk}">'
            f"{options[default.pk if default is not None else None]}</select></td>"
            f"<td>{accepted or ''}</td>"
            "</tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308  (every value above is escaped)
