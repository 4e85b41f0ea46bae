"""The page of each published item: its stable URL, what it shows, its card and its queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.text import slugify

from newsletter.models import Topic
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_publish
from tests.factories import UserFactory
from tests.newsletter.issue_data import accepted, draft_issue, published_event

pytestmark = pytest.mark.django_db


def topic(name: str) -> Topic:
    return Topic.objects.create(name=name, slug=slugify(name))


def publish(*submissions):
    issue = draft_issue()
    for submission in submissions:
        issue_item_add(issue=issue, submission=submission)
    return issue_publish(issue=issue)


def count_queries(client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_item_page_shows_title_link_summary_topics_credit_and_issue(client):
    author = UserFactory(credit_me=True, display_name="Ada")
    submission = accepted(
        title="Distilling step by step", author=author, url="https://example.org/distil"
    )
    distil = topic("Distillation")
    submission.topics.set([distil])
    issue = publish(submission)
    item = issue.items.get()

    response = client.get(submission.get_page_url())
    page = response.content.decode()

    assert response.status_code == 200
    assert submission.get_page_url() == f"/archive/items/{submission.pk}/distilling-step-by-step/"
    assert '<h1 id="item-title">Distilling step by step</h1>' in page
    assert 'href="https://example.org/distil"' in page
    assert "<strong>Markdown</strong>" in page
    assert f'href="{distil.get_absolute_url()}">Distillation</a>' in page
    assert "Shared by" in page and "Ada" in page
    assert f'href="{issue.get_absolute_url()}#{item.anchor}"' in page
    assert '<meta property="og:type" content="article">' in page
    assert '<meta name="twitter:card" content="summary_large_image">' in page
    assert f"/archive/items/{submission.pk}/card.png?v=" in page


def test_item_page_url_is_stable_and_other_slugs_redirect(client):
    submission = accepted(title="Second title")
    publish(submission)
    old = f"/archive/items/{submission.pk}/first-title/"

    assert client.get(old).status_code == 301
    assert client.get(old)["Location"] == submission.get_page_url()
    short = client.get(reverse("newsletter:item-redirect", args=[submission.pk]))
    assert short["Location"] == submission.get_page_url()


def test_unpublished_submission_has_no_item_page(client):
    submission = accepted(title="Waiting")
    draft = draft_issue()
    issue_item_add(issue=draft, submission=submission)

    assert client.get(submission.get_page_url()).status_code == 404
    assert client.get(f"/archive/items/{submission.pk}/card.png").status_code == 404


def test_related_items_share_a_topic(client):
    sparsity, serving = topic("Sparsity"), topic("Serving")
    main, related, unrelated = accepted(title="Main"), accepted(title="Sibling"), accepted()
    main.topics.set([sparsity])
    related.topics.set([sparsity, serving])
    unrelated.topics.set([serving])
    publish(main, related, unrelated)

    response = client.get(main.get_page_url())

    assert [i.submission.title for i in response.context["related"]] == ["Sibling"]


def test_item_page_queries_do_not_grow_with_topics_or_related_items(client):
    chosen = [topic("Sparsity"), topic("Serving"), topic("Long context")]
    main = accepted()
    main.topics.set(chosen[:1])
    sibling = accepted()
    sibling.topics.set(chosen[:1])
    publish(main, sibling)
    one = count_queries(client, main.get_page_url())

    main.topics.set(chosen)
    others = [accepted() for _ in range(30)]
    for other in others:
        other.topics.set(chosen)
    publish(*others)

    assert count_queries(client, main.get_page_url()) == one


def test_sitemap_lists_items_topics_and_events(client):
    submission = accepted()
    quant = topic("Quantisation")
    submission.topics.set([quant])
    publish(submission)
    event = published_event()

    body = client.get("/sitemap.xml").content.decode()

    assert f"http://127.0.0.1:8000{submission.get_page_url()}" in body
    assert f"http://127.0.0.1:8000{quant.get_absolute_url()}" in body
    assert f"http://127.0.0.1:8000{event.get_absolute_url()}" in body


def test_home_archive_event_and_topic_pages_have_opengraph_tags(client):
    event = published_event(title="Reading group: GPTQ")
    quant = topic("Quantisation")
    pages = {
        "/": "ML Efficiency",
        reverse("newsletter:archive"): "The newsletter archive",
        event.get_absolute_url(): "Reading group: GPTQ",
        quant.get_absolute_url(): "Quantisation",
        reverse("newsletter:topic-list"): "Topics",
    }
    for path, title in pages.items():
        page = client.get(path).content.decode()
        assert f'<meta property="og:title" content="{title}' in page, path
        assert f'<meta property="og:url" content="http://127.0.0.1:8000{path}">' in page, path
        assert '<meta name="twitter:card"' in page, path


def test_cards_and_sitemap_queries_do_not_grow(client):
    first = accepted()
    first.topics.set([topic("Serving")])
    issue = publish(first)
    published_event()
    card_urls = [
        reverse("newsletter:item-card", args=[first.pk]),
        reverse("newsletter:issue-card", args=[issue.number, issue.slug]),
    ]
    one = [count_queries(client, url) for url in [*card_urls, "/sitemap.xml"]]

    big = [accepted() for _ in range(30)]
    for submission in big:
        submission.topics.set(Topic.objects.all())
    publish(*big)
    for _ in range(3):
        published_event()

    assert [count_queries(client, url) for url in [*card_urls, "/sitemap.xml"]] == one
