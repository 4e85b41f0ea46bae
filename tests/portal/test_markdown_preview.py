"""markdownx's editor on the site's terms: a live preview that is capped and budgeted, and no
image upload anywhere (docs/security.md: "Markdown rendering", "Image upload")."""

from __future__ import annotations

import time

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from markdownx.widgets import MarkdownxWidget

from newsletter.forms import SUMMARY_MAX_LENGTH, SubmissionForm
from portal.forms import MarkdownEditor
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PREVIEW = "/markdownx/markdownify/"
UPLOAD = "/markdownx/upload/"
# A one-pixel PNG, and bytes that only start like one.
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS"
    b"\xde\x00\x00\x00\x0cIDATx\x9cc```\x00\x00\x00\x04\x00\x01\xf6\x178U\x00\x00\x00\x00IEND\xaeB`\x82"
)
NOT_PNG = b"\x89PNG\r\n\x1a\nrubbish"


def test_preview_renders_a_summary_of_the_longest_length(member_client):
    text = "**" + "a" * (SUMMARY_MAX_LENGTH - 4) + "**"
    response = member_client.post(PREVIEW, {"content": text})
    assert response.status_code == 200
    assert response.content.decode() == f"<p><strong>{'a' * (SUMMARY_MAX_LENGTH - 4)}</strong></p>"


def test_preview_longer_than_a_summary_is_refused(member_client):
    response = member_client.post(PREVIEW, {"content": "a" * (SUMMARY_MAX_LENGTH + 1)})
    assert response.status_code == 400
    assert response.content.decode() == (
        f"The preview shows texts of up to {SUMMARY_MAX_LENGTH} characters, the longest a "
        f"summary may be; this one has {SUMMARY_MAX_LENGTH + 1}."
    )


def test_preview_of_100_kb_of_brackets_answers_at_once(member_client):
    """The finding: 100 kB of `[` kept a worker busy for over 70 s."""
    started = time.perf_counter()
    response = member_client.post(PREVIEW, {"content": "[" * 100_000})
    assert response.status_code == 400
    assert time.perf_counter() - started < 2.0


def test_preview_without_content_is_a_bad_request(member_client):
    response = member_client.post(PREVIEW, {"text": "**hi**"})
    assert response.status_code == 400
    assert response.content.decode() == "Nothing to preview: the text to render goes in “content”."


def test_preview_past_the_members_budget_is_refused(member_client, settings):
    settings.MARKDOWN_PREVIEWS_PER_MINUTE = 3
    answers = [member_client.post(PREVIEW, {"content": "*hi*"}) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[-1].content.decode() == (
        "Too many previews in a minute; the preview comes back shortly."
    )


def test_preview_budget_is_each_members_own(client, member, settings):
    settings.MARKDOWN_PREVIEWS_PER_MINUTE = 1
    client.force_login(member)
    assert client.post(PREVIEW, {"content": "hi"}).status_code == 200
    assert client.post(PREVIEW, {"content": "hi"}).status_code == 429
    client.force_login(UserFactory())
    assert client.post(PREVIEW, {"content": "hi"}).status_code == 200


def test_preview_answers_only_post(member_client):
    assert member_client.get(PREVIEW, {"content": "hi"}).status_code == 405


@pytest.mark.parametrize(
    ("name", "data", "content_type", "ajax"),
    [
        ("picture.png", PNG, "image/png", True),
        ("page.html", PNG, "image/png", True),
        ("picture.png", NOT_PNG, "image/png", True),
        ("notes.txt", b"not a picture", "text/plain", False),
    ],
    # What markdownx answered a member before: stored, stored as .html, 500, 500.
    ids=["png", "png-named-html", "not-an-image", "text-without-ajax"],
)
def test_upload_address_does_not_exist(client, member, name, data, content_type, ajax):
    headers = {"X-Requested-With": "XMLHttpRequest"} if ajax else {}
    for user in (None, member):
        if user is not None:
            client.force_login(user)
        image = SimpleUploadedFile(name, data, content_type=content_type)
        assert client.post(UPLOAD, {"image": image}, headers=headers).status_code == 404


def _markdown_widgets():
    """Every Markdown field's widget: the members' form and each admin form."""
    request = RequestFactory().get("/")
    request.user = UserFactory.build(is_staff=True, is_superuser=True)
    forms = {"submission form": SubmissionForm} | {
        f"{model.__name__} admin": model_admin.get_form(request)
        for model, model_admin in admin.site._registry.items()
    }
    return {
        f"{where}: {name}": field.widget
        for where, form in forms.items()
        for name, field in form.base_fields.items()
        if isinstance(field.widget, MarkdownxWidget)
    }


def test_every_markdown_field_uses_the_editor_without_upload():
    widgets = _markdown_widgets()
    assert set(widgets) == {
        "submission form: summary",
        "Issue admin: introduction",
        "Issue admin: closing",
        "Event admin: description",
    }
    assert {name for name, widget in widgets.items() if type(widget) is not MarkdownEditor} == set()


def test_editor_names_no_upload_address_and_refuses_files(member_client, admin_client):
    pages = [
        (member_client, "/submit/"),
        (admin_client, "/admin/newsletter/issue/add/"),
        (admin_client, "/admin/events/event/add/"),
    ]
    for client, path in pages:
        page = client.get(path).content.decode()
        assert 'class="markdownx-editor"' in page, path
        assert "data-markdownx-upload-urls-path" not in page, path
        assert "markdownx/upload" not in page, path
        assert "/static/js/markdown-editor.js" in page, path
