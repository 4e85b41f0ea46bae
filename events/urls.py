from django.urls import path

from portal.pagecache import reader_page

from . import views

app_name = "events"

# Order matters: "calendar.ics" before "<slug>.ics", and both before "<slug>/".
urlpatterns = [
    path(
        "",
        reader_page("events", query=["page"], timeout=60)(views.EventListView.as_view()),
        name="event-list",
    ),
    path("calendar.ics", views.calendar_ics, name="calendar-ics"),
    # Two segments: no event's slug can hide them.
    path(
        "me/rsvps/",
        # The member's own page, stored for them until an event, an answer or their calendar
        # link changes; a minute at most ("upcoming" moves with the clock).
        reader_page("events", "calendars", timeout=60, per_member=True)(views.my_rsvps),
        name="my-rsvps",
    ),
    path("me/<str:token>.ics", views.personal_calendar, name="personal-calendar"),
    path("<slug:slug>.ics", views.event_ics, name="event-ics"),
    path("<slug:slug>/", views.event_detail, name="event-detail"),
    path("<slug:slug>/rsvp/", views.rsvp, name="rsvp"),
    path("<slug:slug>/attendees.csv", views.attendees_csv, name="attendees-csv"),
]
