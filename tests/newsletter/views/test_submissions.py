"""The members' side: signing up, submitting links and following them."""

import html
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from newsletter.models import Activity, Endorsement, ExtraLink, IssueItem, Section, Submission
from newsletter.services.endorsements import endorsement_create
from newsletter.views.submissions import FETCHES_PER_MINUTE
from tests.factories import PublishedIssueFactory, SubmissionFactory, UserFactory

SUBMIT = reverse("portal:submission-create")
FETCH = reverse("portal:submission-fetch")


def submit_data(**overrides):
    data = {
        "url": "https://arxiv.org/abs/2303.16058",
        "kind": "paper",
        "title": "Unmasked Teacher: Towards Training-Efficient Video Foundation Models",
        "summary": "Aligns only the **unmasked** tokens with an image model.",
        "note_to_editors": "",
        "links-TOTAL_FORMS": "3",
        "links-INITIAL_FORMS": "0",
        "links-MIN_NUM_FORMS": "0",
        "links-MAX_NUM_FORMS": "3",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_signup_email_verification_then_first_submission(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "ada@example.org",
            "password1": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
    )
    assert response.status_code == 302
    # Verification is mandatory: not logged in yet, a confirmation email is on its way.
    assert client.get(SUBMIT).status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = client.post("/" + path)
    assert response.status_code == 302

    response = client.post(SUBMIT, submit_data())
    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response["Location"] == submission.get_absolute_url()
    assert submission.author.email == "ada@example.org"
    assert submission.state == Submission.State.PENDING
    assert submission.canonical_key == "arxiv:2303.16058"
    assert "<strong>unmasked</strong>" in submission.summary_html
    page = client.get(reverse("portal:submission-list"))
    assert "Unmasked Teacher" in page.content.decode()
    assert "Waiting for review" in page.content.decode()


@pytest.mark.django_db
def test_submission_extra_links_are_stored_in_order(member_client):
    data = submit_data(
        **{
            "links-0-label": "Bonus: talk",
            "links-0-url": "https://www.youtube.com/watch?v=jyOqtw4ry2w",
            "links-1-label": "Code",
            "links-1-url": "https://github.com/TimDettmers/bitsandbytes",
        }
    )
    member_client.post(SUBMIT, data)
    links = list(Submission.objects.get().extra_links.values_list("label", "url"))
    assert links == [
        ("Bonus: talk", "https://www.youtube.com/watch?v=jyOqtw4ry2w"),
        ("Code", "https://github.com/TimDettmers/bitsandbytes"),
    ]


@pytest.mark.django_db
def test_submit_requires_login(client):
    response = client.get(SUBMIT)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_duplicate_of_pending_submission_is_refused_with_where_it_is(member_client, other_member):
    SubmissionFactory(author=other_member, url="https://arxiv.org/abs/2303.16058")
    response = member_client.post(SUBMIT, submit_data(url="https://arxiv.org/pdf/2303.16058v2.pdf"))
    assert response.status_code == 200
    assert Submission.objects.count() == 1
    assert "already submitted and is waiting for review" in response.content.decode()
    # What the member typed is kept.
    assert "Unmasked Teacher" in response.content.decode()


@pytest.mark.django_db
def test_duplicate_of_published_submission_names_the_issue(member_client, other_member):
    issue = PublishedIssueFactory(number=7)
    existing = SubmissionFactory(
        author=other_member,
        url="https://github.com/ggerganov/llama.cpp",
        kind="repo",
        state=Submission.State.PUBLISHED,
    )
    item = IssueItem.objects.create(
        issue=issue,
        section=Section.objects.get(slug="repo-spotlight"),
        submission=existing,
        is_published=True,
    )
    response = member_client.post(
        SUBMIT, submit_data(url="https://github.com/ggerganov/llama.cpp.git", kind="repo")
    )
    content = response.content.decode()
    assert "already published in issue #7" in content
    assert f"{issue.get_absolute_url()}#{item.anchor}" in content
    assert Submission.objects.count() == 1

    check = member_client.get(
        reverse("portal:submission-check"),
        {"url": "https://github.com/ggerganov/llama.cpp/tree/master"},
    ).json()
    assert check["duplicate"] is True
    assert check["message"] == "This link was already published in issue #7."
    assert check["url"] == f"{issue.get_absolute_url()}#{item.anchor}"


@pytest.mark.django_db
def test_check_endpoint_answers_for_new_and_invalid_links(member_client):
    check = reverse("portal:submission-check")
    assert member_client.get(check, {"url": "https://example.org/new"}).json() == {
        "valid": True,
        "duplicate": False,
        "message": "",
    }
    answer = member_client.get(check, {"url": "javascript:alert(1)"}).json()
    assert answer["valid"] is False
    assert "http://" in answer["message"]


@pytest.mark.django_db
def test_rejected_link_can_be_submitted_again(member_client, other_member):
    SubmissionFactory(
        author=other_member,
        url="https://example.org/post",
        state=Submission.State.REJECTED,
        reject_reason=Submission.RejectReason.OFF_TOPIC,
    )
    member_client.post(SUBMIT, submit_data(url="https://www.example.org/post/?utm_source=x"))
    assert Submission.objects.count() == 2


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"url": "ftp://example.org/file"}, "url", "must start with http:// or https://"),
        ({"url": "javascript:alert(1)"}, "url", "must start with http:// or https://"),
        ({"url": ""}, "url", "Paste the link"),
        ({"kind": "poem"}, "kind", "Select a valid choice"),
        ({"summary": "x" * 4001}, "summary", "at most 4000 characters (it has 4001)"),
        ({"title": "", "autofill_failed": "on"}, "title", "could not find a title"),
    ],
)
@pytest.mark.django_db
def test_bad_input_gets_a_message_next_to_the_field_and_keeps_the_rest(
    member_client, overrides, field, message
):
    data = submit_data(note_to_editors="Please look at section 3.", **overrides)
    response = member_client.post(SUBMIT, data)
    assert response.status_code == 200
    assert Submission.objects.count() == 0
    form = response.context["form"]
    assert message in " ".join(form.errors[field])
    assert "Please look at section 3." in response.content.decode()


@pytest.mark.django_db
def test_a_summary_of_1850_characters_is_accepted(member_client):
    summary = ("Why it matters, in a sentence of forty or so characters. " * 33)[:1850]

    response = member_client.post(SUBMIT, submit_data(summary=summary))

    assert response.status_code == 302
    assert Submission.objects.get().summary == summary.strip()


@pytest.mark.django_db
def test_summary_length_counts_a_line_break_once_as_the_page_counter_does(member_client):
    # Browsers send a textarea's line breaks as CRLF; the member sees (and the counter counts)
    # one character each.
    lines = ["A line of the summary, thirty-odd characters."] * 86
    summary = "\r\n".join(lines)
    assert len(summary) > 4000 >= len("\n".join(lines))

    response = member_client.post(SUBMIT, submit_data(summary=summary))

    assert response.status_code == 302
    assert Submission.objects.get().summary == "\n".join(lines)


@pytest.mark.django_db
def test_submit_form_has_a_live_counter_for_the_summary(member_client):
    page = member_client.get(SUBMIT).content.decode()

    counter = re.search(r'<p [^>]*id="summary-count"[^>]*>', page).group(0)
    assert 'data-max="4000"' in counter
    assert 'aria-live="polite"' in counter
    assert " hidden" in counter  # shown by static/js/submit.js; without it, nothing to read
    assert "at most 4000 characters" in page
    assert "/static/js/submit.js" in page


@pytest.mark.django_db
def test_extra_link_needs_label_and_http_url(member_client):
    response = member_client.post(
        SUBMIT, submit_data(**{"links-0-label": "", "links-0-url": "javascript:alert(1)"})
    )
    assert response.status_code == 200
    errors = response.context["formset"].forms[0].errors
    assert "label" in errors and "url" in errors
    assert Submission.objects.count() == 0


@pytest.mark.django_db
def test_daily_limit_refuses_the_next_submission(member_client, member, settings):
    settings.NEWSLETTER_SUBMISSIONS_PER_DAY = 3
    for n in range(3):
        response = member_client.post(SUBMIT, submit_data(url=f"https://example.org/{n}"))
        assert response.status_code == 302
    response = member_client.post(SUBMIT, submit_data(url="https://example.org/3"))
    assert response.status_code == 200
    assert "today's limit of 3 submissions" in html.unescape(response.content.decode())
    assert Submission.objects.filter(author=member).count() == 3


@pytest.mark.django_db
def test_member_edits_own_pending_submission(member_client, member):
    submission = SubmissionFactory(author=member, title="Old title")
    url = reverse("portal:submission-edit", args=[submission.pk])
    response = member_client.post(
        url, submit_data(url=submission.url, kind="blog", title="New title")
    )
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.title == "New title"
    assert Activity.objects.filter(submission=submission, action="edited").exists()


@pytest.mark.django_db
def test_member_cannot_see_edit_or_withdraw_others_submissions(member_client, other_member):
    theirs = SubmissionFactory(author=other_member, title="Theirs")
    for name in ("portal:submission-detail", "portal:submission-edit"):
        assert member_client.get(reverse(name, args=[theirs.pk])).status_code == 404
    response = member_client.post(reverse("portal:submission-withdraw", args=[theirs.pk]))
    assert response.status_code == 404
    response = member_client.post(
        reverse("portal:submission-edit", args=[theirs.pk]),
        submit_data(url=theirs.url, title="Mine now"),
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.state, theirs.title) == (Submission.State.PENDING, "Theirs")


@pytest.mark.django_db
def test_member_withdraws_own_pending_submission_but_not_twice(member_client, member):
    submission = SubmissionFactory(author=member)
    url = reverse("portal:submission-withdraw", args=[submission.pk])
    # GET only asks: nothing changes until the member confirms.
    page = member_client.get(url)
    assert page.status_code == 200
    assert "Withdraw it" in page.content.decode()
    assert 'class="button button-danger"' in page.content.decode()
    submission.refresh_from_db()
    assert submission.state == Submission.State.PENDING
    member_client.post(url)
    submission.refresh_from_db()
    assert submission.state == Submission.State.WITHDRAWN
    response = member_client.post(url, follow=True)
    assert "only a submission waiting for review can be withdrawn" in response.content.decode()


@pytest.mark.django_db
def test_decided_submission_cannot_be_edited_by_its_author(member_client, member):
    submission = SubmissionFactory(author=member, state=Submission.State.ACCEPTED, title="Kept")
    response = member_client.post(
        reverse("portal:submission-edit", args=[submission.pk]),
        submit_data(url=submission.url, title="Changed"),
        follow=True,
    )
    assert "Only a submission waiting for review, or a rejected one, can be edited" in (
        response.content.decode()
    )
    submission.refresh_from_db()
    assert submission.title == "Kept"


@pytest.mark.django_db
def test_my_submissions_query_count_does_not_grow(member_client, member, django_assert_num_queries):
    url = reverse("portal:submission-list")

    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert member_client.get(url).status_code == 200
        return len(ctx.captured_queries)

    issue = PublishedIssueFactory()
    section = Section.objects.get(slug="papers-and-posts")

    def make(n, start):
        for i in range(start, start + n):
            s = SubmissionFactory(author=member, url=f"https://example.org/q/{i}")
            if i % 3 == 0:
                s.state = Submission.State.PUBLISHED
                s.save()
                IssueItem.objects.create(
                    issue=issue, section=section, submission=s, is_published=True
                )
            elif i % 3 == 1:
                s.state = Submission.State.REJECTED
                s.reject_reason = Submission.RejectReason.OFF_TOPIC
                s.save()

    member_client.get(url)  # the member is read once, then from the cache
    make(1, 0)
    one = count_queries()
    make(30, 1)
    thirty = count_queries()
    assert one == thirty


@pytest.mark.django_db
def test_markdownx_preview_requires_login(client, member):
    # The upload address is gone altogether (tests/portal/test_markdown_preview.py).
    response = client.post("/markdownx/markdownify/", {"content": "**hi**"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_markdownx_preview_is_sanitised(member_client):
    response = member_client.post(
        "/markdownx/markdownify/",
        {"content": "**bold** <script>alert(1)</script> [x](javascript:alert(1))"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<strong>bold</strong>" in body
    assert "<script" not in body and "javascript:" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["url", "links-0-url"])
def test_a_link_with_a_line_break_or_tab_gets_a_message_and_nothing_is_stored(member_client, field):
    data = submit_data(
        **{field: "https://example.org/one\r\n## two\tthree", "links-0-label": "Code"}
    )
    response = member_client.post(SUBMIT, data)
    assert response.status_code == 200
    assert "cannot contain spaces, line breaks or tabs" in response.content.decode()
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_fetch_details_refused_past_the_budget(thirdparty_settings, member_client, member):
    cache.delete(f"ratelimit:fetch:{member.pk}")  # a member of an earlier test may have had this id
    url = "https://github.com/ggerganov/llama.cpp"

    answers = [member_client.post(FETCH, {"url": url}) for _ in range(FETCHES_PER_MINUTE + 1)]

    assert [answer.status_code for answer in answers] == [200] * FETCHES_PER_MINUTE + [429]
    assert answers[-1].json() == {
        "ok": False,
        "message": "Too many fetches in a minute; wait a moment and try again.",
    }


@pytest.mark.django_db
def test_fetch_details_redis_down_budget_still_counts_in_the_process(
    thirdparty_settings, member_client, member, redis_down
):
    """A limit must not fail open: while Redis is down the budget counts in this process."""
    url = "https://github.com/ggerganov/llama.cpp"

    answers = [member_client.post(FETCH, {"url": url}) for _ in range(FETCHES_PER_MINUTE + 1)]

    assert [answer.status_code for answer in answers] == [200] * FETCHES_PER_MINUTE + [429]
    assert answers[0].json()["title"] == "ggerganov/llama.cpp"


# --- A duplicate is not a dead end: +1 ---------------------------------------------------------


@pytest.mark.django_db
def test_duplicate_answer_offers_a_plus_one_and_it_is_recorded(member_client, other_member):
    existing = SubmissionFactory(author=other_member, url="https://arxiv.org/abs/2303.16058")
    response = member_client.post(SUBMIT, submit_data())
    page = response.content.decode()
    assert "already submitted and is waiting for review" in page
    endorse_url = reverse("portal:submission-endorse", args=[existing.pk])
    assert f'action="{endorse_url}"' in page
    assert "+1: I want this in the newsletter too" in page
    # The form keeps what the member typed.
    assert "Unmasked Teacher" in page

    response = member_client.post(endorse_url, {"reason": "We use it every day"}, follow=True)
    assert "your +1" in response.content.decode()
    endorsement = Endorsement.objects.get()
    assert (endorsement.submission, endorsement.reason) == (existing, "We use it every day")
    assert Submission.objects.count() == 1

    # A second +1 is refused with a message, and the first one stays as it was.
    response = member_client.post(endorse_url, {"reason": "again"}, follow=True)
    assert "You already said +1" in html.unescape(response.content.decode())
    assert list(Endorsement.objects.values_list("reason", flat=True)) == ["We use it every day"]


@pytest.mark.django_db
def test_check_json_says_whether_the_member_may_endorse(member_client, member, other_member):
    theirs = SubmissionFactory(author=other_member, url="https://example.org/theirs")
    mine = SubmissionFactory(author=member, url="https://example.org/mine")
    check = reverse("portal:submission-check")
    data = member_client.get(check, {"url": theirs.url}).json()
    assert data["duplicate"] is True
    assert data["endorse_url"] == reverse("portal:submission-endorse", args=[theirs.pk])
    assert (data["endorse_refusal"], data["endorsements"]) == ("", 0)
    data = member_client.get(check, {"url": mine.url}).json()
    assert data["endorse_refusal"].startswith("This is your own submission")


@pytest.mark.django_db
def test_endorsing_your_own_submission_through_the_page_is_refused(member_client, member):
    mine = SubmissionFactory(author=member)
    url = reverse("portal:submission-endorse", args=[mine.pk])
    response = member_client.post(url, {"reason": "me too"}, follow=True)
    assert "This is your own submission" in response.content.decode()
    assert not Endorsement.objects.exists()
    assert member_client.get(url).status_code == 405


@pytest.mark.django_db
def test_endorsing_with_a_too_long_reason_says_so(member_client, other_member):
    theirs = SubmissionFactory(author=other_member)
    url = reverse("portal:submission-endorse", args=[theirs.pk])
    response = member_client.post(url, {"reason": "x" * 300}, follow=True)
    assert "at most 200 characters" in response.content.decode()
    assert not Endorsement.objects.exists()


@pytest.mark.django_db
def test_the_submitter_sees_the_plus_ones_and_their_reasons(member_client, member, other_member):
    submission = SubmissionFactory(author=member, title="Mine")
    endorsement_create(submission=submission, member=other_member, reason="Saved us a GPU")
    for url in (reverse("portal:submission-list"), submission.get_absolute_url()):
        page = html.unescape(member_client.get(url).content.decode())
        assert "+1" in page
        assert "Saved us a GPU" in page
        assert other_member.public_name in page


@pytest.mark.django_db
def test_my_submissions_query_count_with_plus_ones_does_not_grow(member_client, member):
    url = reverse("portal:submission-list")
    fans = UserFactory.create_batch(3)

    def make(n, start):
        for i in range(start, start + n):
            s = SubmissionFactory(author=member, url=f"https://example.org/e/{i}")
            for fan in fans:
                endorsement_create(submission=s, member=fan, reason=f"reason {i}")

    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            assert member_client.get(url).status_code == 200
        return len(ctx.captured_queries)

    member_client.get(url)
    make(1, 0)
    one = count_queries()
    make(2, 1)
    assert count_queries() == one


# --- Withdraw: confirm, undo; a rejected submission sent back -----------------------------------


@pytest.mark.django_db
def test_withdraw_then_undo_within_the_minute(member_client, member):
    submission = SubmissionFactory(author=member)
    detail = html.unescape(member_client.get(submission.get_absolute_url()).content.decode())
    withdraw = reverse("portal:submission-withdraw", args=[submission.pk])
    assert f'href="{withdraw}"' in detail  # a link to the confirmation, not a one-click POST
    response = member_client.post(withdraw, follow=True)
    page = response.content.decode()
    assert "You can undo this for a minute" in page
    undo = reverse("portal:submission-withdraw-undo", args=[submission.pk])
    assert f'action="{undo}"' in page
    response = member_client.post(undo, follow=True)
    assert "waiting for review again" in response.content.decode()
    submission.refresh_from_db()
    assert submission.state == Submission.State.PENDING


@pytest.mark.django_db
def test_withdraw_undo_too_late_says_so(member_client, member):
    submission = SubmissionFactory(author=member)
    member_client.post(reverse("portal:submission-withdraw", args=[submission.pk]))
    Submission.objects.filter(pk=submission.pk).update(
        state_changed_at=timezone.now() - timedelta(minutes=2)
    )
    page = member_client.get(submission.get_absolute_url()).content.decode()
    undo = reverse("portal:submission-withdraw-undo", args=[submission.pk])
    assert undo not in page
    response = member_client.post(undo, follow=True)
    assert "for a minute only" in response.content.decode()
    submission.refresh_from_db()
    assert submission.state == Submission.State.WITHDRAWN


@pytest.mark.django_db
def test_rejected_submission_is_edited_and_sent_back(member_client, member):
    submission = SubmissionFactory(
        author=member,
        url="https://arxiv.org/abs/2303.16058",
        state=Submission.State.REJECTED,
        reject_reason=Submission.RejectReason.NOT_ENOUGH_DETAIL,
        reject_note="Say why it matters.",
    )
    edit = reverse("portal:submission-edit", args=[submission.pk])
    detail = member_client.get(submission.get_absolute_url()).content.decode()
    assert "Edit and send back for review" in detail
    page = member_client.get(edit).content.decode()
    assert "Save and send back for review" in page
    assert "Say why it matters." in html.unescape(page)
    response = member_client.post(
        edit, submit_data(summary="It halves the training cost."), follow=True
    )
    assert "Sent back for review" in response.content.decode()
    submission.refresh_from_db()
    assert submission.state == Submission.State.PENDING
    assert submission.summary == "It halves the training cost."
    assert submission.reject_reason == ""


@pytest.mark.django_db
def test_long_summary_error_sits_at_the_top_and_the_form_keeps_everything(member_client):
    long = "word " * 900
    response = member_client.post(SUBMIT, submit_data(summary=long, note_to_editors="keep me"))
    page = response.content.decode()
    summary_box = page.index('id="error-summary"')
    assert summary_box < page.index('name="url"')
    assert 'href="#id_summary"' in page[summary_box:]
    assert "4000" in page[summary_box : page.index('name="url"')]
    assert long.strip() in page
    assert "keep me" in page
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_my_submission_page_query_count_is_the_same_for_1_and_3_links(
    member_client, member, django_assert_num_queries
):
    submission = SubmissionFactory(author=member)
    ExtraLink.objects.create(submission=submission, label="Code", url="https://example.org/c")
    url = reverse("portal:submission-detail", args=[submission.pk])
    member_client.get(url)  # the member is read once, then from the cache
    with CaptureQueriesContext(connection) as one:
        assert member_client.get(url).status_code == 200
    for n in range(2):
        ExtraLink.objects.create(
            submission=submission,
            label=f"Talk {n}",
            url=f"https://example.org/t{n}",
            position=n + 1,
        )

    with django_assert_num_queries(len(one)):
        page = member_client.get(url)

    assert "Talk 1" in page.content.decode()
