"""The time-zone list: canonical names grouped by region, the time now beside each."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from portal.models import User
from portal.timezones import canonical_zones, zone_choices, zone_label

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def test_canonical_zones_hold_places_not_aliases():
    zones = set(canonical_zones())
    assert {"Europe/Paris", "Asia/Kolkata", "America/New_York", "Australia/Sydney"} <= zones
    for alias in ("US/Eastern", "Asia/Calcutta", "Etc/GMT+5", "GB", "Europe/Kiev", "Factory"):
        assert alias not in zones
    assert 350 < len(zones) < 500


def test_zone_choices_grouped_by_region_with_the_time_now():
    groups = dict(zone_choices(now=NOW))
    assert list(groups)[0] == "UTC"
    assert groups["UTC"] == [("UTC", "UTC (12:00, UTC+00:00)")]
    assert {"Africa", "America", "Asia", "Europe", "Pacific"} <= set(groups)
    assert ("Asia/Kolkata", "Kolkata (17:30, UTC+05:30)") in groups["Asia"]
    assert ("Europe/Paris", "Paris (13:00, UTC+01:00)") in groups["Europe"]
    buenos_aires = dict(groups["America"])["America/Argentina/Buenos_Aires"]
    assert buenos_aires == "Argentina / Buenos Aires (09:00, UTC-03:00)"


def test_zone_choices_keep_a_members_alias_as_their_current_zone():
    groups = dict(zone_choices(current="US/Eastern", now=NOW))
    assert groups["Your current zone"] == [("US/Eastern", "US/Eastern (07:00, UTC-05:00)")]
    assert "Your current zone" not in dict(zone_choices(current="Europe/Paris", now=NOW))


def test_zone_label_reads_as_a_place():
    assert zone_label("America/North_Dakota/New_Salem") == "North Dakota / New Salem"


@pytest.mark.django_db
def test_profile_offers_the_grouped_list_and_refuses_an_alias(member_client, member):
    body = member_client.get(reverse("portal:profile")).content.decode()
    assert '<optgroup label="Europe">' in body
    assert "data-timezone-picker" in body and "data-browser-default" in body
    assert 'value="US/Eastern"' not in body
    data = {"display_name": "Ada", "discord_handle": "", "credit_me": "on"}
    response = member_client.post(reverse("portal:profile"), {**data, "timezone": "US/Eastern"})
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    member_client.post(reverse("portal:profile"), {**data, "timezone": "Asia/Tokyo"})
    member.refresh_from_db()
    assert member.timezone == "Asia/Tokyo"
    body = member_client.get(reverse("portal:profile")).content.decode()
    assert "data-browser-default" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("sent, kept", [("Europe/Lisbon", "Europe/Lisbon"), ("Mars/Base", "UTC")])
def test_signup_takes_the_browsers_zone(client, sent, kept):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "new@example.org",
            "password1": "a long and unusual passphrase",
            "password2": "a long and unusual passphrase",
            "timezone": sent,
        },
    )
    assert response.status_code == 302
    assert User.objects.get(email="new@example.org").timezone == kept
