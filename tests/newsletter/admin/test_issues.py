"""The compose page's items formset: what the editor posts, what is saved, what bad input gets."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from newsletter.admin.compose import ORDER_MAX
from newsletter.models import Issue, IssueItem, Section, Submission
from newsletter.services.compose import BLURB_MAX_LENGTH, issue_item_add, issue_item_remove
from tests.factories import UserFactory
from tests.newsletter.issue_data import accepted, draft_issue, published_event, published_issue

pytestmark = pytest.mark.django_db


def compose_url(issue: Issue) -> str:
    return reverse("admin:newsletter_issue_compose", args=[issue.pk])


def section(slug: str) -> Section:
    return Section.objects.get(slug=slug)


def order(issue: Issue) -> list[tuple[int, str, int, str]]:
    """Every item of the issue as (id, section slug, position, blurb), in reading order."""
    return list(
        issue.items.order_by("section__position", "position").values_list(
            "pk", "section__slug", "position", "blurb"
        )
    )


class _ItemsForm(HTMLParser):
    """What a browser posts from the page's items form (the one with the management form)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({})
        elif tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.forms[-1][a["name"]] = a.get("value", "on")
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.forms[-1][self._select] = a["value"]
        elif tag == "textarea":
            self._textarea = a["name"]
            self.forms[-1][self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            # Django starts a textarea with a newline that browsers drop.
            value = self.forms[-1][self._textarea] + data
            self.forms[-1][self._textarea] = value.removeprefix("\n")


def items_form_on_page(response) -> dict[str, str]:
    parser = _ItemsForm()
    parser.feed(response.content.decode())
    (form,) = [form for form in parser.forms if "items-TOTAL_FORMS" in form]
    return form


def field(data: dict[str, str], item: IssueItem, name: str) -> str:
    """The posted name of one field of `item`, found by the item's hidden id."""
    (prefix,) = [
        key.removesuffix("-id")
        for key, value in data.items()
        if key.endswith("-id") and value == str(item.pk)
    ]
    return f"{prefix}-{name}"


# --- The page as editors use it ------------------------------------------------------------------


def test_compose_page_posts_back_unchanged_and_saves_nothing_new(editor_client):
    issue = draft_issue(items=3)
    before = order(issue)

    page = editor_client.get(compose_url(issue))
    response = editor_client.post(compose_url(issue), items_form_on_page(page), follow=True)

    assert response.status_code == 200
    assert "Saved." in response.content.decode()
    assert order(issue) == before


def test_compose_page_labels_every_field_of_every_item(editor_client):
    issue = draft_issue(items=2)
    event = published_event(title="Reading group: sparse attention")
    issue_item_add(issue=issue, event=event)
    later = published_event(title="Reading group: state spaces")

    page = editor_client.get(compose_url(issue)).content.decode()

    for item in issue.items.all():
        for label in ("Order of", "Section of", "Blurb of", "Remove"):
            assert f"{label} {item}</label>" in page
        assert f'aria-label="Move {item} up"' in page
        summary = item.submission.summary if item.submission else "No blurb"
        assert f'placeholder="{summary}"' in page
    # Events already in the issue are not offered again.
    assert f'name="add-event" value="{later.pk}"' in page
    assert f'name="add-event" value="{event.pk}"' not in page


def test_compose_edits_through_the_rendered_form(editor_client):
    issue = draft_issue(items=4)
    a, b, c, d = issue.items.order_by("position")
    data = items_form_on_page(editor_client.get(compose_url(issue)))
    data[field(data, a, "ORDER")] = "2.5"  # between b and c
    data[field(data, c, "blurb")] = "  A *better* blurb.  "
    data[field(data, d, "section")] = str(section("tool-spotlight").pk)

    response = editor_client.post(compose_url(issue), data)

    assert response.status_code == 302
    assert order(issue) == [
        (b.pk, "papers-and-posts", 0, ""),
        (a.pk, "papers-and-posts", 1, ""),
        (c.pk, "papers-and-posts", 2, "A *better* blurb."),
        (d.pk, "tool-spotlight", 0, ""),
    ]
    issue.refresh_from_db()
    assert "A <em>better</em> blurb." in issue.body_html


def test_compose_moves_an_item_down_with_its_button(editor_client):
    issue = draft_issue(items=3)
    a, b, c = issue.items.order_by("position")
    data = items_form_on_page(editor_client.get(compose_url(issue)))

    editor_client.post(compose_url(issue), {**data, "move": f"{a.pk}:down"})

    assert [pk for pk, *_ in order(issue)] == [b.pk, a.pk, c.pk]


def test_compose_removes_an_item_even_with_a_bad_field(editor_client):
    issue = draft_issue(items=2)
    a, b = issue.items.order_by("position")
    data = items_form_on_page(editor_client.get(compose_url(issue)))
    data[field(data, a, "DELETE")] = "on"
    data[field(data, a, "ORDER")] = "soon"

    response = editor_client.post(compose_url(issue), data)

    assert response.status_code == 302
    assert [pk for pk, *_ in order(issue)] == [b.pk]
    assert Submission.objects.accepted().filter(pk=a.submission_id).exists()


def test_compose_saves_a_published_issue_as_a_correction(editor_client):
    issue = published_issue(items=1)
    item = issue.items.get()
    data = items_form_on_page(editor_client.get(compose_url(issue)))
    data[field(data, item, "blurb")] = "Corrected."

    response = editor_client.post(compose_url(issue), data, follow=True)

    assert "Saved; the correction is on the site now." in response.content.decode()
    issue.refresh_from_db()
    assert "Corrected." in issue.body_html


def test_compose_leaves_an_item_added_after_the_page_was_loaded(editor_client):
    issue = draft_issue(items=1)
    first = issue.items.get()
    data = items_form_on_page(editor_client.get(compose_url(issue)))
    late = issue_item_add(issue=issue, submission=accepted())
    data[field(data, first, "blurb")] = "Still saved."

    response = editor_client.post(compose_url(issue), data)

    assert response.status_code == 302
    assert order(issue) == [
        (first.pk, "papers-and-posts", 0, "Still saved."),
        (late.pk, "papers-and-posts", 1, ""),
    ]


def test_compose_page_query_count_does_not_grow_with_items(
    editor_client, django_assert_num_queries
):
    issue = draft_issue(items=1)
    editor_client.get(compose_url(issue))  # the editor is read once, then from the cache
    with CaptureQueriesContext(connection) as one_item:
        assert editor_client.get(compose_url(issue)).status_code == 200
    queries = len(one_item)  # now: the connection keeps only the last 9,000 queries
    for _ in range(29):
        issue_item_add(issue=issue, submission=accepted())
    with django_assert_num_queries(queries):
        response = editor_client.get(compose_url(issue))
    assert response.content.decode().count("Blurb of ") == 30


def test_compose_save_query_count_does_not_grow_with_items(
    editor_client, django_assert_num_queries
):
    """Reading the formset costs the same for 1 item as for 30 (nothing changes, nothing written)."""
    issue = draft_issue(items=1)
    data = items_form_on_page(editor_client.get(compose_url(issue)))
    with CaptureQueriesContext(connection) as one_item:
        assert editor_client.post(compose_url(issue), data).status_code == 302
    queries = len(one_item)
    for _ in range(29):
        issue_item_add(issue=issue, submission=accepted())
    data = items_form_on_page(editor_client.get(compose_url(issue)))
    with django_assert_num_queries(queries):
        assert editor_client.post(compose_url(issue), data).status_code == 302


# --- Bad input: a form error next to the item, or one message; a 400, never a 500 ----------------


def _post_with(editor_client, issue: Issue, name: str, value: str, *, item=None):
    """Post the page's own form with one field of the first item (or `item`) changed."""
    data = items_form_on_page(editor_client.get(compose_url(issue)))
    item = item or issue.items.order_by("position").first()
    data[field(data, item, name)] = value
    return editor_client.post(compose_url(issue), data)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("section", "999999", "Select a valid choice. 999999 is not one of the available choices."),
        ("section", "papers", "Select a valid choice. papers is not one of the available choices."),
        ("ORDER", "second", "Enter a number."),
        ("ORDER", "-1", "Ensure this value is greater than or equal to 0."),
        ("ORDER", str(ORDER_MAX + 1), f"Ensure this value is less than or equal to {ORDER_MAX}."),
        ("ORDER", "1e308", f"Ensure this value is less than or equal to {ORDER_MAX}."),
        ("ORDER", "1" * 5000, "Enter a number."),
        ("ORDER", "nan", "Enter a number."),
        ("ORDER", "-inf", "Enter a number."),
        (
            "blurb",
            "x" * (BLURB_MAX_LENGTH + 1),
            f"A blurb has at most {BLURB_MAX_LENGTH} characters (this one has "
            f"{BLURB_MAX_LENGTH + 1}).",
        ),
    ],
)
def test_compose_bad_field_is_an_error_next_to_the_item(editor_client, name, value, error):
    issue = draft_issue(items=2)
    first, second = issue.items.order_by("position")
    data = items_form_on_page(editor_client.get(compose_url(issue)))
    data[field(data, first, name)] = value
    data[field(data, second, "blurb")] = "Not saved either: all or nothing."
    before = order(issue)

    response = editor_client.post(compose_url(issue), data)

    page = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was saved: please correct the errors below." in page
    # The message sits in the item's row, tied to its field for screen readers.
    row = page[
        page.index(f'id="id_{field(data, first, "id")}"') : page.index(
            f'id="id_{field(data, second, "id")}"'
        )
    ]
    error_id = f"id_{field(data, first, name)}_error"
    assert f'<ul class="errorlist" id="{error_id}"><li>{error}</li></ul>' in row
    assert f'aria-describedby="{error_id}"' in row
    assert order(issue) == before
    # The editor's input stays on the page to be corrected.
    assert "Not saved either: all or nothing." in page


def test_compose_keeps_a_long_blurb_saved_before_the_limit(editor_client):
    issue = draft_issue(items=1)
    item = issue.items.get()
    IssueItem.objects.filter(pk=item.pk).update(blurb="y" * (BLURB_MAX_LENGTH + 10))

    response = _post_with(editor_client, issue, "ORDER", "1")

    assert response.status_code == 302
    assert issue.items.get().blurb == "y" * (BLURB_MAX_LENGTH + 10)


def test_compose_refuses_the_id_of_an_item_of_another_issue(editor_client):
    issue = draft_issue(items=1)
    other = draft_issue(items=1)
    theirs = other.items.get()
    before, theirs_before = order(issue), order(other)
    data = items_form_on_page(editor_client.get(compose_url(issue)))
    data[field(data, issue.items.get(), "id")] = str(theirs.pk)
    data["items-0-DELETE"] = "on"
    data["items-0-blurb"] = "Hijacked"

    response = editor_client.post(compose_url(issue), data)

    page = response.content.decode()
    assert response.status_code == 400
    assert "The items on this page no longer match the issue" in page
    assert "Nothing was saved" in page
    assert order(issue) == before
    assert order(other) == theirs_before
    # The page shows the issue as it is, ready to be edited again.
    assert f'name="items-0-id" value="{issue.items.get().pk}"' in page


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"items-1-id": "{first}"}, id="one-item-twice"),
        pytest.param({"items-0-id": "one"}, id="not-a-number"),
        pytest.param({"items-0-id": "9" * 30}, id="huge-id"),
        pytest.param({"items-1-id": None}, id="missing-id"),
        pytest.param({"items-TOTAL_FORMS": "3", "items-2-blurb": "A new item?"}, id="extra-form"),
        pytest.param({"items-TOTAL_FORMS": "9" * 12}, id="huge-total"),
        pytest.param({"items-TOTAL_FORMS": None}, id="missing-total"),
        pytest.param({"items-INITIAL_FORMS": "-1"}, id="negative-initial"),
    ],
)
def test_compose_refuses_a_tampered_items_form(editor_client, tamper):
    issue = draft_issue(items=2)
    before = order(issue)
    data = items_form_on_page(editor_client.get(compose_url(issue)))
    data["items-0-blurb"] = "Not saved"
    for name, value in tamper.items():
        if value is None:
            del data[name]
        else:
            data[name] = value.format(first=data["items-0-id"])

    response = editor_client.post(compose_url(issue), data)

    assert response.status_code == 400
    assert 'class="errornote"' in response.content.decode()
    assert order(issue) == before


def test_compose_item_removed_meanwhile_is_a_message_and_the_page_as_it_is(editor_client):
    issue = draft_issue(items=2)
    gone, kept = issue.items.order_by("position")
    data = items_form_on_page(editor_client.get(compose_url(issue)))
    issue_item_remove(item=gone)

    response = editor_client.post(compose_url(issue), data)

    page = response.content.decode()
    assert response.status_code == 400
    assert "someone changed it meanwhile" in page
    form = items_form_on_page(response)
    assert (form["items-TOTAL_FORMS"], form["items-0-id"]) == ("1", str(kept.pk))
    assert order(issue) == [(kept.pk, "papers-and-posts", 0, "")]


def test_compose_without_the_management_form_says_so(editor_client):
    issue = draft_issue(items=1)
    before = order(issue)
    data = items_form_on_page(editor_client.get(compose_url(issue)))
    for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
        del data[f"items-{name}"]

    response = editor_client.post(compose_url(issue), data)

    page = response.content.decode()
    assert response.status_code == 400
    assert "without the form&#x27;s hidden bookkeeping fields, so nothing was saved" in page
    assert order(issue) == before


def test_compose_empty_post_is_a_400_not_a_500(editor_client):
    issue = draft_issue(items=1)

    response = editor_client.post(compose_url(issue), {})

    assert response.status_code == 400
    assert "make your changes again" in response.content.decode()


def test_compose_unknown_move_is_ignored(editor_client):
    issue = draft_issue(items=2)
    before = order(issue)
    data = items_form_on_page(editor_client.get(compose_url(issue)))

    response = editor_client.post(compose_url(issue), {**data, "move": "x:sideways"})

    assert response.status_code == 302
    assert order(issue) == before


def test_issue_list_query_count_is_the_same_for_1_and_3_issues(
    editor_client, django_assert_num_queries
):
    url = reverse("admin:newsletter_issue_changelist")
    draft_issue(items=1)
    editor_client.get(url)  # the editor is read once, then from the cache
    with CaptureQueriesContext(connection) as one:
        assert editor_client.get(url).status_code == 200
    draft_issue(items=2)
    published_issue(items=3)

    with django_assert_num_queries(len(one)):
        page = editor_client.get(url)

    assert page.content.decode().count('class="action-select"') == 3


def test_compose_pool_query_count_is_the_same_for_1_and_3_accepted(
    editor_client, django_assert_num_queries
):
    issue = draft_issue()
    accepted(title="First in the pool")
    editor_client.get(compose_url(issue))
    with CaptureQueriesContext(connection) as one:
        assert editor_client.get(compose_url(issue)).status_code == 200
    accepted(title="Second in the pool")
    accepted(title="Third <in> the pool")

    with django_assert_num_queries(len(one)):
        page = editor_client.get(compose_url(issue)).content.decode()

    assert page.count('name="add" value=') == 3
    assert "Third &lt;in&gt; the pool" in page


# --- The pool: paged past NEWSLETTER_POOL_PAGE_SIZE, with a search ------------------------------


def pool_titles(page: str) -> list[str]:
    """The pool's titles on the page, in order."""
    rows = page.split('id="pool"', 1)[1]
    return re.findall(r'name="add" value="\d+"></td><td><a href="[^"]*">([^<]*)</a>', rows)


def accepted_in_order(*titles: str, **kwargs) -> list[Submission]:
    start = timezone.now() - timedelta(days=len(titles))
    return [
        accepted(title=title, state_changed_at=start + timedelta(days=n), **kwargs)
        for n, title in enumerate(titles)
    ]


def test_compose_pool_is_paged_oldest_first(editor_client, settings):
    settings.NEWSLETTER_POOL_PAGE_SIZE = 2
    issue = draft_issue()
    accepted_in_order("One", "Two", "Three", "Four", "Five")

    first = editor_client.get(compose_url(issue)).content.decode()
    last = editor_client.get(compose_url(issue), {"pool_page": "3"}).content.decode()

    assert pool_titles(first) == ["One", "Two"]
    assert "Pool: accepted submissions not in a published issue (5)" in first
    assert "Showing 1–2 of 5, oldest first." in first
    assert f'href="{compose_url(issue)}?pool_q=&amp;pool_page=2#pool"' in first
    assert pool_titles(last) == ["Five"]
    # Bad page numbers show a page rather than an error.
    for bad in ("x", "-1", "0", "99", "9" * 40):
        response = editor_client.get(compose_url(issue), {"pool_page": bad})
        assert response.status_code == 200
        assert len(pool_titles(response.content.decode())) in (1, 2)


def test_compose_pool_search_finds_title_link_and_submitter(editor_client):
    issue = draft_issue()
    ada = UserFactory(display_name="Ada Lovelace", email="ada@example.org")
    accepted(title="Sparse attention", url="https://arxiv.org/abs/2401.00001")
    accepted(title="Quantization", author=ada)
    accepted(title="Pruning")

    def found(q: str) -> list[str]:
        return pool_titles(editor_client.get(compose_url(issue), {"pool_q": q}).content.decode())

    assert found("sparse") == ["Sparse attention"]
    assert found("2401.00001") == ["Sparse attention"]
    assert found("lovelace") == ["Quantization"]
    assert found("ada@example") == ["Quantization"]
    assert sorted(found("")) == ["Pruning", "Quantization", "Sparse attention"]


def test_compose_pool_search_bad_input_is_a_page_not_an_error(editor_client):
    issue = draft_issue()
    accepted(title="Sparse attention")
    for q in ("<script>x</script>", "nul\x00byte", "a" * 5000, "   "):
        response = editor_client.get(compose_url(issue), {"pool_q": q})
        assert response.status_code == 200
        page = response.content.decode()
        assert "<script>x" not in page
    page = editor_client.get(compose_url(issue), {"pool_q": "<b>nothing"}).content.decode()
    assert "Nothing in the pool matches “&lt;b&gt;nothing”." in page


def test_compose_fill_adds_the_whole_pool_not_only_the_page_shown(editor_client, settings):
    settings.NEWSLETTER_POOL_PAGE_SIZE = 2
    issue = draft_issue()
    accepted_in_order("One", "Two", "Three", "Four", "Five", kind="paper")

    response = editor_client.post(compose_url(issue), {"action": "fill"})

    assert response.status_code == 302
    assert issue.items.count() == 5
    assert pool_titles(editor_client.get(compose_url(issue)).content.decode()) == []


def test_compose_pool_query_count_is_the_same_on_every_page(
    editor_client, settings, django_assert_num_queries
):
    settings.NEWSLETTER_POOL_PAGE_SIZE = 2
    issue = draft_issue()
    accepted(title="Alone")
    editor_client.get(compose_url(issue))
    with CaptureQueriesContext(connection) as one:
        assert editor_client.get(compose_url(issue)).status_code == 200
    accepted_in_order("One", "Two", "Three", "Four", "Five")

    for page in ("1", "2", "3"):
        with django_assert_num_queries(len(one)):
            response = editor_client.get(compose_url(issue), {"pool_page": page})
        assert len(pool_titles(response.content.decode())) == 2
