"""Reader pages for logged-in members: rendered once per role and time zone, shared between
members, with each member's own CSRF token put back; never another member's bits."""

import re

import pytest
from django.conf import settings
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django.utils.text import slugify

from events.services import calendar_token_reset, calendar_token_revoke, event_cancel, rsvp_set
from newsletter.models import Topic
from newsletter.services.compose import issue_item_add, issue_item_remove, issue_item_set_blurb
from newsletter.services.decisions import submission_decide
from newsletter.services.issues import issue_publish
from newsletter.services.topics import submission_topics_set, topic_save
from newsletter.views.archive import KINDS_BY_SLUG
from portal.pagecache import SCOPES, reader_pages_changed
from tests.factories import EditorFactory, SubmissionFactory, UserFactory
from tests.newsletter.issue_data import accepted, draft_issue, published_event, published_issue

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')


@pytest.fixture
def page_cache(settings):
    settings.READER_CACHE_SECONDS = 600
    # Every scope, so this process's known generations are this test's: in local memory the
    # cache is cleared between tests, and one still remembered could outlive it by 0.25 s.
    reader_pages_changed(*SCOPES)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def masked(page: str) -> str:
    return TOKEN.sub('name="csrfmiddlewaretoken" value="TOKEN"', page)


def reader_paths() -> list[str]:
    issue = published_issue(title="Sparse attention month", items=3)
    event = published_event(title="Reading group on pruning")
    assert event.get_absolute_url()
    return ["/", "/archive/", issue.get_absolute_url(), "/archive/search/?q=sparse", "/events/"]


def own_pages(ada_client, bob_client, url, django_assert_num_queries):
    """A member's own page (My submissions, My RSVPs) asked twice by Ada, then by Bob: Ada's
    second visit is her stored page and costs no query; Bob's is never hers."""
    assert ada_client.get(url)["X-Reader-Cache"] == "miss"
    with django_assert_num_queries(0):
        ada_page = ada_client.get(url)
    bob_page = bob_client.get(url)
    assert ada_page["X-Reader-Cache"] == "hit"
    assert bob_page["X-Reader-Cache"] == "miss"  # never Ada's page
    return ada_page.content.decode(), bob_page.content.decode()


def topic_with_items(items: int = 2, name: str = "Sparsity"):
    """A topic and a published issue of `items` items under it (given by an editor, as after
    publication): the topic, the issue and the first item's submission."""
    topic = Topic.objects.get_or_create(name=name, slug=slugify(name))[0]
    issue = published_issue(title=f"{name} month", items=items)
    editor = EditorFactory()
    submissions = [item.submission for item in issue.items.order_by("position", "id")]
    for submission in submissions:
        submission_topics_set(submission=submission, topics=[topic], actor=editor)
    return topic, issue, submissions[0]


def test_two_members_interleaved_each_see_only_their_own_page(settings):
    paths = reader_paths()
    ada = UserFactory(timezone="Europe/Paris", display_name="Ada")
    bob = UserFactory(timezone="Europe/Paris", display_name="Bob")
    kai = UserFactory(timezone="Asia/Kolkata", display_name="Kai")
    clients = {user: logged_in(user) for user in (ada, bob, kai)}
    settings.READER_CACHE_SECONDS = 0
    fresh = {(u, p): masked(c.get(p).content.decode()) for u, c in clients.items() for p in paths}
    settings.READER_CACHE_SECONDS = 600
    reader_pages_changed("archive", "events")

    states = {}
    for _round in range(2):
        for path in paths:
            for user in (ada, bob, kai):
                response = clients[user].get(path)
                page = response.content.decode()
                states[user, path, _round] = response["X-Reader-Cache"]
                assert masked(page) == fresh[user, path], (user, path)
                # The token on the page is the member's own: it unmasks to their secret.
                secret = clients[user].cookies["csrftoken"].value
                assert all(_unmask_cipher_token(t) == secret for t in TOKEN.findall(page))
                assert TOKEN.search(page)
                assert "Cache-Control" in response and "private" in response["Cache-Control"]

    for path in paths:
        assert states[ada, path, 0] == "miss"
        assert states[bob, path, 0] == "hit"  # Ada's page, shared, with Bob's token
        assert states[kai, path, 0] == "miss"  # another zone: another page
        assert {states[u, path, 1] for u in (ada, bob, kai)} == {"hit"}


def test_a_cached_members_page_costs_no_query(page_cache, django_assert_num_queries):
    paths = reader_paths()
    client = logged_in(UserFactory())
    for path in paths:
        client.get(path)

    for path in paths:
        with django_assert_num_queries(0):
            assert client.get(path)["X-Reader-Cache"] == "hit"


def test_the_token_from_a_cached_page_is_accepted():
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    reader_paths()
    client.get("/archive/")
    page = client.get("/archive/").content.decode()

    response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": TOKEN.search(page)[1]})

    assert response.status_code == 302
    assert "Log out" not in client.get("/archive/").content.decode()


def test_editors_and_members_do_not_share_a_page(page_cache, editor, member):
    reader_paths()
    editors_page = logged_in(editor).get("/archive/").content.decode()
    members_page = logged_in(member).get("/archive/").content.decode()

    assert "Editors' desk" in editors_page
    assert "Editors' desk" not in members_page


def test_a_members_page_is_retired_when_the_archive_changes(
    page_cache, django_capture_on_commit_callbacks
):
    reader_paths()
    client = logged_in(UserFactory())
    client.get("/archive/")
    assert client.get("/archive/")["X-Reader-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        published_issue(title="Quantisation month")

    response = client.get("/archive/")
    assert response["X-Reader-Cache"] == "miss"
    assert "Quantisation month" in response.content.decode()


def test_an_event_page_shows_each_member_their_own_answer(page_cache):
    event = published_event(title="Reading group on pruning")
    ada, bob = UserFactory(), UserFactory()
    rsvp_set(event=event, user=ada, status="going")
    ada_client, bob_client = logged_in(ada), logged_in(bob)

    for _ in range(2):
        ada_page = ada_client.get(event.get_absolute_url())
        bob_page = bob_client.get(event.get_absolute_url())
        assert "Your answer: <strong>Going</strong>" in ada_page.content.decode()
        assert "Your answer:" not in bob_page.content.decode()


def test_a_member_with_a_message_waiting_gets_a_fresh_page(page_cache):
    reader_paths()
    client = logged_in(UserFactory())
    client.get("/archive/")
    session = client.session
    session["_messages"] = '[["__json_message",0,25,"Your profile is saved."]]'
    session.save()
    # A changed session is saved under a new key (portal/sessions.py), as a response would say.
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key

    response = client.get("/archive/")

    assert "X-Reader-Cache" not in response
    assert "Log out" in response.content.decode()  # still the member, on the new key


# --- Pages shared between members with each member's own part put in (an event's answer) -------


def test_two_members_see_only_their_own_bits_on_every_cached_page(settings):
    """Every page cached for members, requested in turn by two members of the same role and
    zone who answered an event differently: each gets, byte for byte (the CSRF token masked),
    the page rendered for them alone, with their own answer and their own token."""
    paths = reader_paths()
    event = published_event(title="Pruning in practice", capacity=1)
    kind = next(iter(KINDS_BY_SLUG))
    topic, _issue, submission = topic_with_items()
    paths += [event.get_absolute_url(), f"/archive/{kind}/", "/archive/feed/rss/"]
    paths += [topic.get_absolute_url(), submission.get_page_url(), MY_RSVPS]
    ada = UserFactory(timezone="Europe/Paris")
    bob = UserFactory(timezone="Europe/Paris")
    rsvp_set(event=event, user=ada, status="going")
    rsvp_set(event=event, user=bob, status="going")  # no seat left: the waiting list
    rsvp_set(event=published_event(title="Bob's other group"), user=bob, status="maybe")
    for user in (ada, bob):  # each member's own calendar link on My RSVPs
        calendar_token_reset(user=user)
    clients = {user: logged_in(user) for user in (ada, bob)}
    settings.READER_CACHE_SECONDS = 0
    fresh = {(u, p): masked(c.get(p).content.decode()) for u, c in clients.items() for p in paths}
    settings.READER_CACHE_SECONDS = 600
    reader_pages_changed(*SCOPES)

    for _round in range(2):
        for path in paths:
            for user in (ada, bob):
                response = clients[user].get(path)
                page = response.content.decode()
                assert masked(page) == fresh[user, path], (user, path)
                secret = clients[user].cookies["csrftoken"].value
                assert all(_unmask_cipher_token(t) == secret for t in TOKEN.findall(page))
                # Ada's first request stored each shared page; My RSVPs is each member's own.
                if _round or (user == bob and path != MY_RSVPS):
                    assert response["X-Reader-Cache"] == "hit", (user, path)
    event_page = event.get_absolute_url()
    assert "Your answer: <strong>Going</strong>" in fresh[ada, event_page]
    assert "<strong>number 1</strong> on the waiting list" in fresh[bob, event_page]
    assert fresh[ada, event_page] != fresh[bob, event_page]
    assert ada.calendar_token in fresh[ada, MY_RSVPS]
    assert bob.calendar_token not in fresh[ada, MY_RSVPS]
    assert "Bob&#x27;s other group" in fresh[bob, MY_RSVPS]
    assert "Bob&#x27;s other group" not in fresh[ada, MY_RSVPS]
    assert f">{topic.name}</a>" in fresh[ada, submission.get_page_url()]


def test_an_event_page_is_rendered_once_and_shared_between_members(page_cache):
    event = published_event(title="Reading group on pruning")
    ada, bob, kai = UserFactory(), UserFactory(), UserFactory()
    rsvp_set(event=event, user=ada, status="maybe")
    rsvp_set(event=event, user=bob, status="not_going")

    states = [logged_in(user).get(event.get_absolute_url()) for user in (ada, bob, kai)]

    assert [page["X-Reader-Cache"] for page in states] == ["miss", "hit", "hit"]
    assert "Your answer: <strong>Maybe</strong>" in states[0].content.decode()
    assert "Your answer: <strong>Not going</strong>" in states[1].content.decode()
    assert "Your answer:" not in states[2].content.decode()
    assert 'name="csrfmiddlewaretoken"' in states[2].content.decode()


def test_a_host_sees_who_is_coming_on_a_shared_event_page_and_members_do_not(page_cache):
    host, ada = UserFactory(display_name="Hester Host"), UserFactory(display_name="Ada Lovelace")
    event = published_event(title="Reading group on pruning")
    event.hosts.add(host)
    rsvp_set(event=event, user=ada, status="going")
    member_page = logged_in(UserFactory()).get(event.get_absolute_url())  # stored, shared

    host_page = logged_in(host).get(event.get_absolute_url()).content.decode()

    assert "Ada Lovelace" in host_page
    assert "Ada Lovelace" not in member_page.content.decode()
    assert (
        "Ada Lovelace"
        not in logged_in(UserFactory()).get(event.get_absolute_url()).content.decode()
    )


@pytest.mark.parametrize("answers", [1, 3])
def test_a_shared_event_page_costs_a_member_no_query_on_a_repeat_visit(
    page_cache, django_assert_num_queries, answers
):
    event = published_event(title="Reading group on pruning")
    event.hosts.add(*UserFactory.create_batch(answers))
    for user in UserFactory.create_batch(answers):
        rsvp_set(event=event, user=user, status="going")
    member = UserFactory()
    rsvp_set(event=event, user=member, status="maybe")
    client = logged_in(member)
    client.get(event.get_absolute_url())  # stores the page, and this process keeps the answer

    with django_assert_num_queries(0):
        page = client.get(event.get_absolute_url())

    assert page["X-Reader-Cache"] == "hit"
    assert "Your answer: <strong>Maybe</strong>" in page.content.decode()


def test_a_members_place_on_the_waiting_list_moves_when_someone_ahead_leaves(
    page_cache, django_capture_on_commit_callbacks
):
    event = published_event(title="Reading group on pruning", capacity=1)
    ada, bob, kai = UserFactory(), UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        for user in (ada, bob, kai):
            rsvp_set(event=event, user=user, status="going")
    client = logged_in(kai)
    assert "<strong>number 2</strong>" in client.get(event.get_absolute_url()).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        rsvp_set(event=event, user=bob, status="not_going")
    page = client.get(event.get_absolute_url()).content.decode()

    assert "<strong>number 1</strong> on the waiting list" in page


# --- Topic and item pages: shared between members like the other reader pages --------------------


def test_topic_and_item_pages_are_shared_between_members(page_cache):
    topic, _issue, submission = topic_with_items()
    ada, bob, kai = UserFactory(), UserFactory(), UserFactory(timezone="Asia/Kolkata")

    for path in (topic.get_absolute_url(), submission.get_page_url()):
        states = [logged_in(user).get(path)["X-Reader-Cache"] for user in (ada, bob, kai)]
        assert states == ["miss", "hit", "miss"], path  # another zone: another page


@pytest.mark.parametrize("rows", [1, 3])
def test_topic_and_item_pages_cost_a_member_as_many_queries_whatever_the_rows(
    django_assert_num_queries, rows
):
    """Rendered for a member (the page cache off): the topic's items, the item's topics and
    its related items are read in as many queries for 1 as for 3."""
    names = ["Sparsity", "Serving", "Long context"][:rows]
    topics = [topic_with_items(rows, name)[0] for name in names]
    _topic, _issue, submission = topic_with_items(rows, names[0])
    submission_topics_set(submission=submission, topics=topics, actor=EditorFactory())
    client = logged_in(UserFactory())
    client.get(topics[0].get_absolute_url())  # the member and their session are cached from here

    with django_assert_num_queries(3):  # the topic, the count of its items, the page of them
        topic_page = client.get(topics[0].get_absolute_url()).content.decode()
    with django_assert_num_queries(4):  # the item, its forum threads, its topics, related
        item_page = client.get(submission.get_page_url()).content.decode()

    assert topic_page.count('class="item-entry"') == 2 * rows
    assert item_page.count('class="topic-chip"') == rows
    assert item_page.count('class="item-row"') == min(rows * rows + rows - 1, 5)  # related


@pytest.mark.parametrize("rows", [1, 3])
def test_a_cached_topic_or_item_page_costs_a_member_no_query(
    page_cache, django_assert_num_queries, rows
):
    topic, _issue, submission = topic_with_items(rows)
    client = logged_in(UserFactory())
    paths = [topic.get_absolute_url(), submission.get_page_url()]
    for path in paths:
        client.get(path)

    for path in paths:
        with django_assert_num_queries(0):
            assert client.get(path)["X-Reader-Cache"] == "hit"


def _chips_changed(topic, submission, editor):
    serving = Topic.objects.create(name="Serving", slug="serving")
    submission_topics_set(submission=submission, topics=[topic, serving], actor=editor)
    return {submission.get_page_url(): 'href="/archive/topics/serving/">Serving</a>'}


def _topic_described(topic, submission, editor):
    topic.description = "Zeros where they do no harm."
    topic_save(topic=topic, actor=editor)
    return {topic.get_absolute_url(): "Zeros where they do no harm."}


def _another_issue_published(topic, submission, editor):
    sibling = accepted(title="A newer sibling")
    sibling.topics.set([topic])  # chosen when it was submitted
    issue = draft_issue(editor=editor)
    issue_item_add(issue=issue, submission=sibling, actor=editor)
    issue_publish(issue=issue, actor=editor)
    return {
        topic.get_absolute_url(): "A newer sibling",
        submission.get_page_url(): "A newer sibling",  # among the related items
    }


def _blurb_corrected(topic, submission, editor):
    item = submission.issue_items.get()
    issue_item_set_blurb(item=item, blurb="A *corrected* blurb.", actor=editor)
    return {submission.get_page_url(): "<em>corrected</em>"}


@pytest.mark.parametrize(
    "change", [_chips_changed, _topic_described, _another_issue_published, _blurb_corrected]
)
def test_topic_and_item_pages_show_a_change_to_members_at_once(
    page_cache, django_capture_on_commit_callbacks, change
):
    topic, _issue, submission = topic_with_items()
    editor = EditorFactory()
    client = logged_in(UserFactory())
    paths = [topic.get_absolute_url(), submission.get_page_url()]
    for path in paths:
        client.get(path)
        assert client.get(path)["X-Reader-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        expected = change(topic, submission, editor)

    for path, text in expected.items():
        page = client.get(path)
        assert page["X-Reader-Cache"] == "miss", path
        assert text in page.content.decode(), path


def test_an_item_taken_out_of_its_issue_is_gone_for_members_at_once(
    page_cache, django_capture_on_commit_callbacks
):
    _topic, _issue, submission = topic_with_items()
    client = logged_in(UserFactory())
    client.get(submission.get_page_url())
    assert client.get(submission.get_page_url())["X-Reader-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        issue_item_remove(item=submission.issue_items.get(), actor=EditorFactory())

    assert client.get(submission.get_page_url()).status_code == 404


# --- My submissions: the member's own page, stored for them alone --------------------------------

MY_SUBMISSIONS = "/my/submissions/"
MY_RSVPS = "/events/me/rsvps/"


@pytest.mark.parametrize("count", [1, 3])
def test_my_submissions_is_stored_for_each_member_and_costs_no_query(
    page_cache, django_assert_num_queries, count
):
    ada, bob = UserFactory(), UserFactory()
    SubmissionFactory.create_batch(count, author=ada, title="Ada's find")
    SubmissionFactory(author=bob, title="Bob's find")
    ada_page, bob_page = own_pages(
        logged_in(ada), logged_in(bob), MY_SUBMISSIONS, django_assert_num_queries
    )

    assert ada_page.count("Ada&#x27;s find") == count
    assert "Ada&#x27;s find" not in bob_page
    assert "Bob&#x27;s find" in bob_page


def test_my_submissions_is_retired_when_a_submission_changes(
    page_cache, django_capture_on_commit_callbacks
):
    member, editor = UserFactory(), EditorFactory()
    submission = SubmissionFactory(author=member, title="Sparse attention")
    client = logged_in(member)
    assert "Reason:" not in client.get(MY_SUBMISSIONS).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        submission_decide(
            submission=submission, actor=editor, to_state="rejected", reason="off-topic"
        )
    page = client.get(MY_SUBMISSIONS)

    assert page["X-Reader-Cache"] == "miss"
    assert "Reason:" in page.content.decode()


def test_my_submissions_is_never_stored_for_a_visitor(page_cache):
    response = Client().get(MY_SUBMISSIONS)

    assert response.status_code == 302
    assert "X-Reader-Cache" not in response


# --- My RSVPs: the member's own page, stored for them alone --------------------------------------


@pytest.mark.parametrize("count", [1, 3])
def test_my_rsvps_is_stored_for_each_member_and_costs_no_query(
    page_cache, django_assert_num_queries, count
):
    ada, bob = UserFactory(), UserFactory()
    for number in range(count):
        rsvp_set(event=published_event(title=f"Ada's group {number}"), user=ada, status="going")
    rsvp_set(event=published_event(title="Bob's group"), user=bob, status="maybe")
    ada_page, bob_page = own_pages(
        logged_in(ada), logged_in(bob), MY_RSVPS, django_assert_num_queries
    )

    assert ada_page.count("Ada&#x27;s group") == count
    assert "Ada&#x27;s group" not in bob_page
    assert "Your answer: <strong>Maybe</strong>" in bob_page


def test_my_rsvps_shows_a_changed_answer_at_once(page_cache, django_capture_on_commit_callbacks):
    member = UserFactory()
    event = published_event(title="Pruning group")
    rsvp_set(event=event, user=member, status="going")
    client = logged_in(member)
    client.get(MY_RSVPS)
    assert client.get(MY_RSVPS)["X-Reader-Cache"] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        rsvp_set(event=event, user=member, status="not_going")
    page = client.get(MY_RSVPS)

    assert page["X-Reader-Cache"] == "miss"
    assert "Your answer: <strong>Not going</strong>" in page.content.decode()


def test_my_rsvps_shows_a_cancelled_event_at_once(page_cache, django_capture_on_commit_callbacks):
    member = UserFactory()
    event = published_event(title="Pruning group")
    rsvp_set(event=event, user=member, status="going")
    client = logged_in(member)
    client.get(MY_RSVPS)
    assert "Cancelled" not in client.get(MY_RSVPS).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        event_cancel(event=event, by=EditorFactory())
    page = client.get(MY_RSVPS)

    assert page["X-Reader-Cache"] == "miss"
    assert '<span class="badge badge-cancelled">Cancelled</span>' in page.content.decode()


def test_my_rsvps_shows_a_new_calendar_link_at_once_and_none_once_turned_off(
    page_cache, django_capture_on_commit_callbacks
):
    member = UserFactory()
    client = logged_in(member)
    client.get(MY_RSVPS)
    assert client.get(MY_RSVPS)["X-Reader-Cache"] == "hit"

    for change in (calendar_token_reset, calendar_token_reset, calendar_token_revoke):
        with django_capture_on_commit_callbacks(execute=True):
            change(user=member)
        page = client.get(MY_RSVPS)
        assert page["X-Reader-Cache"] == "miss"
        if member.calendar_token:
            assert f"/events/me/{member.calendar_token}.ics" in page.content.decode()
        else:
            assert 'id="feed-url"' not in page.content.decode()


def test_my_rsvps_is_never_stored_for_a_visitor(page_cache):
    response = Client().get(MY_RSVPS)

    assert response.status_code == 302
    assert "X-Reader-Cache" not in response
