"""Submitting, the rough edges smoothed: the kind read from the link as it is typed, a +1 where
a duplicate used to be a dead end, a long summary's error at the top, withdrawing with a
confirmation and a minute's undo, a rejected link sent back; the editors' side of it."""

from playwright.sync_api import expect

from newsletter.models import Endorsement, Kind, Submission
from newsletter.services.endorsements import endorsement_create
from tests.browser.conftest import browser_test
from tests.factories import EditorFactory, SubmissionFactory, UserFactory, VoteFactory

pytestmark = browser_test


def test_kind_is_guessed_from_the_link_as_typed_and_stays_editable(open_tab, loopback_only):
    tab = open_tab("submit-kind", user=UserFactory())
    page = tab.page
    tab.go("/submit/")
    kind = page.get_by_label("Kind")
    link = page.get_by_label("Link").first
    expect(kind).to_have_value("auto")
    for url, expected in [
        ("https://github.com/ggerganov/llama.cpp", "repo"),
        ("https://arxiv.org/abs/2210.17323", "paper"),
        ("https://www.youtube.com/watch?v=abc", "talk"),
        ("https://pypi.org/project/auto-gptq/", "tool"),
        ("https://example.org/a-post", "blog"),
    ]:
        link.fill(url)
        expect(kind).to_have_value(expected)
    expect(page.locator("#kind-guess")).to_contain_text("Guessed from the link: Blog post")
    tab.shot("01-kind-guessed")

    # Chosen by hand, the kind stays whatever link follows.
    kind.select_option("tool")
    link.fill("https://github.com/vllm-project/vllm")
    expect(kind).to_have_value("tool")
    page.get_by_label("Title").fill("vLLM")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".messages")).to_contain_text("Thank you!")
    assert Submission.objects.get().kind == Kind.TOOL
    tab.assert_clean()


def test_a_duplicate_offers_a_plus_one_with_a_reason(open_tab, loopback_only):
    first = UserFactory(display_name="Grace")
    existing = SubmissionFactory(
        author=first, url="https://github.com/ggerganov/llama.cpp", title="llama.cpp"
    )
    member = UserFactory(display_name="Ada")
    tab = open_tab("submit-endorse", user=member)
    page = tab.page
    tab.go("/submit/")
    page.get_by_label("Link").first.fill("https://github.com/ggerganov/llama.cpp/")
    expect(page.locator("#url-status")).to_contain_text("already submitted")
    offer = page.locator("#endorse-offer")
    expect(offer).to_be_visible()
    offer.get_by_label("Why you want it in").fill("Runs our 7B model on a laptop")
    tab.shot("01-duplicate-offers-plus-one")
    offer.get_by_role("button", name="+1: I want this in the newsletter too").click()
    expect(page.locator(".messages")).to_contain_text("your +1 for “llama.cpp” is recorded")
    endorsement = Endorsement.objects.get()
    assert (endorsement.submission, endorsement.member) == (existing, member)
    assert endorsement.reason == "Runs our 7B model on a laptop"

    # Once given, the +1 is not offered again: the page says why.
    page.get_by_label("Link").first.fill("https://github.com/ggerganov/llama.cpp")
    expect(page.locator("#endorse-refusal")).to_contain_text("You already said +1")
    expect(offer).to_be_hidden()
    tab.assert_clean()

    # The submitter sees it on My submissions.
    mine = open_tab("submit-endorsed", user=first)
    mine.go("/my/submissions/")
    row = mine.page.locator(".item-row", has_text="llama.cpp")
    expect(row).to_contain_text("+1")
    expect(row).to_contain_text("Ada: “Runs our 7B model on a laptop”")
    mine.shot("02-my-submissions-with-plus-ones")
    mine.assert_clean()


def test_a_long_summary_error_is_at_the_top_and_nothing_typed_is_lost(open_tab, loopback_only):
    tab = open_tab("submit-long", user=UserFactory())
    page = tab.page
    tab.go("/submit/")
    page.get_by_label("Link").first.fill("https://example.org/long")
    page.get_by_label("Title").fill("A long one")
    long = "All the details. " * 240  # 4,080 characters
    page.get_by_label("Summary").fill(long)
    expect(page.locator("#summary-count")).to_have_text(f"{len(long)} / 4000")
    expect(page.locator("#summary-count")).to_have_class("helptext char-count over")
    page.get_by_role("button", name="Submit for review").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    expect(summary).to_contain_text("Summary:")
    tab.shot("01-error-summary-on-top")
    expect(page.get_by_label("Summary")).to_have_value(long)
    expect(page.get_by_label("Title")).to_have_value("A long one")
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("Summary")).to_be_focused()
    assert not Submission.objects.exists()
    # The live preview refuses a text over the limit with a 400 (and says why in the preview
    # box); the browser logs that answer, which is expected here.
    tab.errors = [e for e in tab.errors if "/markdownx/markdownify/" not in e]
    tab.assert_clean()


def test_withdraw_asks_first_and_can_be_undone(open_tab, loopback_only):
    member = UserFactory()
    submission = SubmissionFactory(author=member, title="Changed my mind")
    tab = open_tab("submit-withdraw", user=member)
    page = tab.page
    tab.go(submission.get_absolute_url())
    withdraw = page.get_by_role("link", name="Withdraw…")
    expect(withdraw).to_have_class("button button-danger-outline")
    withdraw.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Withdraw “Changed my mind”?")
    tab.shot("01-withdraw-confirm")
    page.get_by_role("button", name="Withdraw it").click()
    expect(page.locator(".messages")).to_contain_text("You can undo this for a minute")
    tab.shot("02-withdrawn-with-undo")
    submission.refresh_from_db()
    assert submission.state == Submission.State.WITHDRAWN
    page.get_by_role("button", name="Undo").click()
    expect(page.locator(".messages")).to_contain_text("waiting for review again")
    submission.refresh_from_db()
    assert submission.state == Submission.State.PENDING
    tab.assert_clean()


def test_rejected_submission_is_edited_sent_back_and_an_editor_finds_it(open_tab, loopback_only):
    member = UserFactory()
    editor = EditorFactory(display_name="Linus")
    rejected = SubmissionFactory(
        author=member,
        title="Thin post",
        state=Submission.State.REJECTED,
        reject_reason=Submission.RejectReason.NOT_ENOUGH_DETAIL,
        reject_note="Say what it measures.",
    )
    VoteFactory(submission=rejected, editor=editor, value=-1)
    tab = open_tab("submit-resubmit", user=member)
    page = tab.page
    tab.go(rejected.get_absolute_url())
    page.get_by_role("link", name="Edit and send back for review").click()
    expect(page.locator(".lead")).to_contain_text("Say what it measures.")
    page.get_by_label("Summary").fill("It measures tokens per second on one GPU.")
    tab.shot("01-resubmit")
    page.get_by_role("button", name="Save and send back for review").click()
    expect(page.locator(".messages")).to_contain_text("Sent back for review")
    rejected.refresh_from_db()
    assert rejected.state == Submission.State.PENDING
    tab.assert_clean()

    # The editor who voted against it before finds it as the next one to review.
    other = SubmissionFactory(title="Reviewed already")
    VoteFactory(submission=other, editor=editor, value=1)
    endorsement_create(submission=rejected, member=UserFactory(display_name="Ada"), reason="Yes")
    desk = open_tab("submit-editor", user=editor)
    desk.go("/admin/newsletter/submission/")
    row = desk.page.locator("#result_list tr", has_text="Thin post")
    expect(row).to_contain_text("It measures tokens per second on one GPU.")
    expect(row).to_contain_text("+1 from members")
    desk.shot("02-queue-summary-and-plus-ones")
    desk.go(f"/admin/newsletter/submission/{other.pk}/change/")
    desk.page.get_by_role("link", name="Next unreviewed →").click()
    expect(desk.page.locator("#review-submission-title")).to_be_visible()
    assert desk.path() == f"/admin/newsletter/submission/{rejected.pk}/change/"
    expect(desk.page.locator(".review-endorsement-list")).to_contain_text("Ada: “Yes”")
    desk.shot("03-review-page")
    desk.assert_clean()
