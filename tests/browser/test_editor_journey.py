"""An editor's journey: log in to the admin, vote in the queue, accept, compose an issue, look
at its Discord preview, publish; the local Discord stand-in receives the messages."""

from playwright.sync_api import expect

from newsletter.models import Delivery, Issue, Kind, Submission
from tests.browser.conftest import browser_test
from tests.factories import EditorFactory, SubmissionFactory, UserFactory, VoteFactory
from tests.stubs.discord import discord_server, make_channel  # noqa: F401  (fixture)

pytestmark = browser_test

PASSWORD = "correct horse battery staple"  # the factories' password


def test_editor_journey_votes_accepts_composes_and_publishes_to_discord(
    open_tab,
    browser_settings,
    discord_server,  # noqa: F811
    loopback_only,
):
    browser_settings.NEWSLETTER_VOTES_TO_ACCEPT = 2
    editor = EditorFactory(display_name="Ada")
    member = UserFactory(display_name="Grace")
    paper = SubmissionFactory(
        author=member,
        kind=Kind.PAPER,
        url="https://arxiv.org/abs/2402.00001",
        title="Speculative decoding without a draft model",
        summary="Twice the tokens per second, **same outputs**.",
        summary_html="<p>Twice the tokens per second, <strong>same outputs</strong>.</p>",
    )
    VoteFactory(submission=paper, editor=EditorFactory(display_name="Linus"))
    tool = SubmissionFactory(
        author=member,
        kind=Kind.TOOL,
        url="https://github.com/example/memray-lite",
        title="memray-lite: find the allocation that broke your batch size",
    )
    channel = make_channel(discord_server, name="#newsletter")

    tab = open_tab("editor")
    page = tab.page

    # The admin sends the editor to the site's one login form (allauth's, with its limits).
    tab.go("/admin/")
    page.get_by_label("Email:").fill(editor.email)
    page.get_by_label("Password:").fill(PASSWORD)
    tab.shot("01-login")
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator("#site-name")).to_contain_text("editors")
    tab.shot("02-desk")

    # The review queue: the paper has one vote for; a second one accepts it by the rule.
    page.get_by_role("link", name="Submissions").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review queue")
    paper_row = page.locator("#result_list tr", has_text=paper.title)
    tab.shot("03-queue")
    vote_for = paper_row.get_by_role("button", name="For", exact=True)
    tab.expect_in_view(vote_for, "the queue's “For” button (1280 px wide)")
    vote_for.click()
    expect(page.locator("#review-live")).to_contain_text("it is accepted")
    expect(paper_row.locator('[data-review-cell="state"]')).to_have_text("Accepted")
    tab.shot("04-voted")

    # The tool is accepted by hand from its review page.
    page.locator("#result_list tr", has_text=tool.title).get_by_role(
        "link", name=tool.title
    ).click()
    expect(page.get_by_role("heading", name="Decide")).to_be_visible()
    tab.shot("05-review-page")
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("is accepted")
    assert set(Submission.objects.values_list("state", flat=True)) == {"accepted"}

    # A new issue, filled from the pool of accepted submissions.
    tab.go("/admin/newsletter/issue/add/")
    page.get_by_label("Title:").fill("Faster decoding, leaner memory")
    page.get_by_label("Introduction:").fill("Two finds this month, both **practical**.")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    issue = Issue.objects.get()
    page.get_by_role("link", name="Compose").first.click()
    expect(page.get_by_role("heading", name="Pool: accepted submissions")).to_contain_text("(2)")
    page.get_by_role("button", name="Fill: add the whole pool and the events").click()
    expect(page.locator(".messagelist")).to_contain_text("Added 2 items.")
    page.get_by_label(f"Blurb of {tool.title}").fill("Finds the **one** allocation that matters.")
    page.get_by_role("button", name="Save order, sections and blurbs").click()
    expect(page.locator(".messagelist")).to_contain_text("Saved.")
    tab.shot("06-compose")

    # The preview shows the Discord messages as they will be posted.
    page.get_by_role("link", name="Preview").first.click()
    discord = page.locator("#discord")
    expect(discord.get_by_role("heading", level=2)).to_contain_text("Discord: 1 message")
    preview_texts = [area.input_value() for area in discord.locator("textarea").all()]
    assert any(paper.title in text for text in preview_texts), preview_texts
    assert any("Finds the **one** allocation that matters." in text for text in preview_texts)
    tab.shot("07-preview")

    # Publish: the site shows the issue and the Discord channel gets exactly the preview.
    # First the page that says who will receive it: the one channel, and its messages.
    page.get_by_role("button", name="Publish now").click()
    expect(page.locator(".publish-confirm")).to_contain_text("Discord: 1 channel")
    expect(page.locator(".publish-confirm")).to_contain_text(channel.name)
    page.get_by_role("button", name="Yes, publish now").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Issue #{issue.number} is published.")
    tab.shot("08-published")
    hook = discord_server.hooks[channel.webhook_id]
    assert discord_server.contents(hook) == preview_texts
    delivery = Delivery.objects.get(channel=channel, issue=issue)
    assert delivery.state == Delivery.State.SENT

    tab.go("/admin/newsletter/delivery/")
    expect(page.locator("#result_list")).to_contain_text("#newsletter")
    tab.shot("09-deliveries")

    page.goto(tab.url(issue.get_absolute_url()))
    expect(page.get_by_role("heading", level=1)).to_have_text("Faster decoding, leaner memory")
    expect(page.locator(".issue-item", has_text=tool.title)).to_contain_text(
        "Finds the one allocation that matters."
    )
    tab.shot("10-issue-on-site")

    tab.assert_clean()
