"""One ?page= style on every list page (portal/pagination.py): bad numbers get the first page,
a message and a 4xx status; no page number reaches the database out of range."""

import pytest

LIST_PAGES = ["/archive/", "/archive/papers/", "/archive/search/?q=pruning&", "/events/"]


@pytest.mark.django_db
@pytest.mark.parametrize("page", LIST_PAGES)
@pytest.mark.parametrize(
    ("number", "status"),
    [("999999999999999999999999", 400), ("-1", 400), ("two", 400), ("100001", 400), ("50", 404)],
)
def test_a_bad_page_number_gets_the_first_page_with_a_message(client, page, number, status):
    separator = "" if page.endswith("&") else "?"
    response = client.get(f"{page}{separator}page={number}")
    assert response.status_code == status
    assert "here is the first page" in response.content.decode()
