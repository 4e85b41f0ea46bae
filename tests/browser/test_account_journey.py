"""A member's own things: answer an event, find it in My RSVPs and in their calendar feed;
delete the account."""

from django.core import mail
from playwright.sync_api import expect

from newsletter.models import Submission
from portal.models import User
from tests.browser.conftest import browser_test, sign_in
from tests.factories import EventFactory, RSVPFactory, SubmissionFactory, UserFactory

pytestmark = browser_test

PASSWORD = "correct horse battery staple"


def test_rsvp_journey_going_then_my_rsvps_then_the_calendar_feed(open_tab):
    member = UserFactory(display_name="Grace")
    event = EventFactory(title="Reading group: speculative decoding")
    RSVPFactory(event=event, user=UserFactory(display_name="Shown Sam", show_when_going=True))
    tab = open_tab("rsvp", user=member)
    page = tab.page

    tab.go(event.get_absolute_url())
    expect(page.locator(".going")).to_contain_text("Shown Sam")
    page.get_by_role("button", name="Going", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("You are going.")
    tab.shot("01-going")
    # The confirmation carries the event for the member's calendar.
    (confirmation,) = [m for m in mail.outbox if member.email in m.to]
    assert confirmation.attachments[0][0] == f"{event.slug}.ics"

    page.get_by_role("link", name="My RSVPs").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My RSVPs")
    expect(page.locator(".event-list")).to_contain_text("Reading group: speculative decoding")
    expect(page.locator(".event-list")).to_contain_text("Going")
    page.get_by_role("button", name="Make my calendar link").click()
    feed = page.get_by_label("Your calendar link")
    url = feed.input_value()
    assert "/events/me/" in url and url.endswith(".ics")
    tab.shot("02-my-rsvps")

    response = page.request.get(url)
    assert response.status == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "SUMMARY:Reading group: speculative decoding" in response.text()

    page.get_by_role("button", name="Turn the link off").click()
    expect(page.locator(".messages")).to_contain_text("Your calendar link is turned off.")
    assert page.request.get(url).status == 404
    tab.assert_clean()


def test_delete_account_journey(open_tab):
    member = UserFactory(display_name="Leaving Lee")
    pending = SubmissionFactory(author=member)
    tab = open_tab("delete-account", user=member)
    page = tab.page

    tab.go("/profile/")
    page.get_by_role("link", name="Delete my account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete my account")
    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".errorlist")).to_contain_text("That is not your password")
    tab.shot("01-wrong-password")

    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".messages")).to_contain_text("Your account is deleted.")
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    tab.shot("02-deleted")

    member = User.objects.get(pk=member.pk)
    assert not member.is_active
    assert Submission.objects.get(pk=pending.pk).state == Submission.State.WITHDRAWN
    tab.go("/profile/")
    assert "/accounts/login/" in tab.path()
    tab.assert_clean()


def test_profile_proposes_the_browsers_zone_and_searches_the_list(
    chromium, live_server, browser_settings
):
    member = UserFactory()
    context = chromium.new_context(timezone_id="Asia/Tokyo", viewport={"width": 390, "height": 844})
    try:
        sign_in(context, live_server.url, member)
        page = context.new_page()
        page.goto(f"{live_server.url}/profile/")
        select = page.locator("select[data-timezone-picker]")
        expect(select).to_have_value("Asia/Tokyo")
        expect(page.locator("#timezone-note")).to_contain_text("Asia/Tokyo")
        page.get_by_label("Search the time zones").fill("lisbon")
        expect(select).to_have_value("Europe/Lisbon")
        assert page.locator("select[data-timezone-picker] option:not([hidden])").count() == 1
        page.get_by_role("button", name="Save profile").click()
        expect(page.locator(".messages")).to_contain_text("Your profile is saved.")
        assert User.objects.get(pk=member.pk).timezone == "Europe/Lisbon"
    finally:
        context.close()


def test_signup_starts_in_the_browsers_zone(chromium, live_server, browser_settings):
    context = chromium.new_context(timezone_id="America/Sao_Paulo")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/signup/")
        page.get_by_label("Email:").fill("zoned@example.org")
        page.get_by_label("Password:", exact=True).fill("a long and unusual passphrase")
        page.get_by_label("Password (again):").fill("a long and unusual passphrase")
        page.get_by_role("button", name="Sign Up").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Verify Your Email Address")
        assert User.objects.get(email="zoned@example.org").timezone == "America/Sao_Paulo"
    finally:
        context.close()
