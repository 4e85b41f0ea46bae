"""A new member's journey: sign up, confirm the email, submit a paper, meet the duplicate check."""

from playwright.sync_api import expect

from newsletter.models import Submission
from tests.browser.conftest import browser_test, confirmation_link
from tests.factories import UserFactory

pytestmark = browser_test

EMAIL = "ada@example.org"
PASSWORD = "a long and unusual passphrase"
PAPER = "https://arxiv.org/abs/2401.12345"
PAPER_PDF_V2 = "https://arxiv.org/pdf/2401.12345v2.pdf"

# A picture dropped onto the summary, then pasted into it, as a browser hands them to the page.
# Answers whether the page kept the browser from opening the dropped file.
_DROP_AND_PASTE_A_PICTURE = """
() => {
  const editor = document.querySelector(".markdownx-editor");
  const picture = () => new File([new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10])],
                                 "picture.png", {type: "image/png"});
  const dragged = new DataTransfer();
  dragged.items.add(picture());
  let drop = null;
  for (const type of ["dragenter", "dragover", "drop"]) {
    const event = new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dragged});
    editor.dispatchEvent(event);
    drop = event;
  }
  const copied = new DataTransfer();
  copied.items.add(picture());
  editor.dispatchEvent(new ClipboardEvent("paste", {bubbles: true, cancelable: true,
                                                    clipboardData: copied}));
  return drop.defaultPrevented;
}
"""


def test_member_journey_signs_up_submits_and_meets_the_duplicate_check(open_tab, loopback_only):
    tab = open_tab("member")
    page = tab.page

    # The home page invites to join.
    tab.go("/")
    tab.shot("01-home")
    page.get_by_role("link", name="Join and share a link").click()

    # Sign up.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sign Up")
    page.get_by_label("Email:").fill(EMAIL)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again):").fill(PASSWORD)
    tab.shot("02-signup")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Verify Your Email Address")
    tab.shot("03-verification-sent")

    # Confirm the email from the link in the mailbox: that signs the member in.
    page.goto(confirmation_link(tab.base_url, EMAIL))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Confirm Email Address")
    tab.shot("04-confirm-email")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # Submit a paper, with the Markdown preview showing the rendered summary.
    tab.go("/submit/")
    page.get_by_label("Link").first.fill(PAPER)
    page.get_by_label("Kind").select_option("paper")
    page.get_by_label("Title").fill("Sparse attention that fits on one GPU")
    page.get_by_label("Summary").fill("Halves the memory of **long-context** inference.")
    preview = page.locator(".markdownx-preview")
    expect(preview.locator("strong")).to_have_text("long-context")
    expect(preview).to_contain_text("Halves the memory of long-context inference.")
    tab.shot("05-submit-with-preview")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".messages")).to_contain_text("Thank you!")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Sparse attention that fits on one GPU"
    )
    tab.shot("06-submitted")

    # The pdf of a later version is the same paper: the form warns while the member types...
    tab.go("/submit/")
    page.get_by_label("Link").first.fill(PAPER_PDF_V2)
    status = page.locator("#url-status")
    expect(status).to_be_visible()
    expect(status).to_contain_text("already submitted")
    expect(status.get_by_role("link", name="See where it is →")).to_be_visible()
    tab.shot("07-duplicate-warning")

    # ...and refuses it on submit, with the message next to the link field.
    page.get_by_label("Kind").select_option("paper")
    page.get_by_role("button", name="Submit for review").click()
    error = page.locator("#field-url .errorlist")
    expect(error).to_contain_text("already submitted and is waiting for review")
    expect(page.get_by_label("Link").first).to_have_value(PAPER_PDF_V2)
    tab.shot("08-duplicate-refused")
    assert Submission.objects.count() == 1

    # My submissions lists the paper, waiting for review.
    page.get_by_role("link", name="My submissions").first.click()
    row = page.locator(".item-row", has_text="Sparse attention that fits on one GPU")
    expect(row).to_contain_text("Paper")
    expect(row.locator(".badge")).to_have_text("Waiting for review")
    tab.shot("09-my-submissions")

    tab.assert_clean()


def test_member_dropping_or_pasting_a_picture_sends_nothing(open_tab, loopback_only):
    """The site keeps no uploads: markdownx's editor must not post a dropped or pasted file."""
    tab = open_tab("member-picture", user=UserFactory())
    page = tab.page
    tab.go("/submit/")
    summary = page.get_by_label("Summary")
    summary.fill("Text only.")
    expect(page.locator(".markdownx-preview")).to_contain_text("Text only.")

    posts: list[str] = []
    page.on(
        "request", lambda request: posts.append(request.url) if request.method == "POST" else None
    )
    assert page.evaluate(_DROP_AND_PASTE_A_PICTURE) is True
    page.wait_for_timeout(1_500)  # markdownx would have posted the file at once

    assert posts == []
    expect(summary).to_have_value("Text only.")


def test_summary_counter_counts_as_the_server_does_and_the_server_still_checks(open_tab):
    from tests.factories import UserFactory

    tab = open_tab("summary-counter", user=UserFactory())
    page = tab.page
    tab.go("/submit/")
    counter = page.locator("#summary-count")
    expect(counter).to_be_visible()
    expect(counter).to_have_text("0 / 4000")
    expect(counter).to_have_attribute("aria-live", "polite")
    summary = page.get_by_label("Summary")
    assert "summary-count" in summary.get_attribute("aria-describedby")

    # An emoji and a line break are one character each, as the server counts them.
    summary.fill("Fast 🚀\nand small.")
    expect(counter).to_have_text("17 / 4000")
    summary.fill("x" * 4001)
    expect(counter).to_have_text("4001 / 4000")
    expect(counter).to_have_class("helptext char-count over")
    # The live preview refuses a text over the limit (a 400 with the reason, shown in the
    # preview pane); the browser logs that answer as a console error. Nothing else may.
    expect(page.locator(".markdownx-preview")).to_contain_text("this one has 4001")
    tab.errors = [error for error in tab.errors if "/markdownx/markdownify/" not in error]
    tab.shot("01-over-the-limit")

    page.get_by_label("Link").first.fill("https://example.org/too-long")
    page.get_by_label("Kind").select_option("blog")
    page.get_by_label("Title").fill("Too long a summary")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#field-summary .errorlist")).to_contain_text(
        "at most 4000 characters (it has 4001)"
    )
    expect(page.locator("#summary-count")).to_have_text("4001 / 4000")
    expect(page.locator(".markdownx-preview")).to_contain_text("this one has 4001")
    tab.errors = [error for error in tab.errors if "/markdownx/markdownify/" not in error]
    assert Submission.objects.count() == 0
    tab.assert_clean()
