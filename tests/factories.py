"""factory_boy factories for the portal's models."""

from datetime import timedelta

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from events.models import RSVP, Event
from newsletter.links.canonical import canonical_key
from newsletter.models import Issue, Kind, Section, Submission, Subscriber, Vote
from portal.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"member{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    display_name = factory.LazyAttribute(lambda o: o.username.title())
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        """Give the member a verified primary email, as allauth would after sign-up."""
        if create and extracted is not False:
            from allauth.account.models import EmailAddress

            EmailAddress.objects.update_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )


class EditorFactory(UserFactory):
    is_staff = True

    @factory.post_generation
    def editor_group(self, create, extracted, **kwargs):
        if create:
            self.groups.add(Group.objects.get(name="Editors"))


class SubmissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Submission

    author = factory.SubFactory(UserFactory)
    url = factory.Sequence(lambda n: f"https://example.org/posts/{n}")
    canonical_key = factory.LazyAttribute(lambda o: canonical_key(o.url))
    kind = Kind.BLOG
    title = factory.Sequence(lambda n: f"An interesting post {n}")
    summary = "A short summary in **Markdown**."
    summary_html = "<p>A short summary in <strong>Markdown</strong>.</p>"
    state = Submission.State.PENDING


class VoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vote

    submission = factory.SubFactory(SubmissionFactory)
    editor = factory.SubFactory(EditorFactory)
    value = Vote.Value.FOR


class IssueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Issue

    number = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"What happened in month {n}")
    introduction = "Hello readers."
    closing = "Thanks for reading."
    state = Issue.State.DRAFT


class PublishedIssueFactory(IssueFactory):
    state = Issue.State.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)


def section(slug: str) -> Section:
    return Section.objects.get(slug=slug)


class EventFactory(factory.django.DjangoModelFactory):
    """A published reading group a week from now, one hour long, stored in UTC."""

    class Meta:
        model = Event
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Reading group {n}")
    slug = factory.Sequence(lambda n: f"reading-group-{n}")
    kind = Event.Kind.READING_GROUP
    description = "We read **the paper** together."
    description_html = "<p>We read <strong>the paper</strong> together.</p>"
    start = factory.LazyFunction(lambda: timezone.now().replace(microsecond=0) + timedelta(days=7))
    end = factory.LazyAttribute(lambda o: o.start + timedelta(hours=1))
    time_zone = "UTC"
    location = "https://discord.com/channels/1/2"
    state = Event.State.PUBLISHED


class RSVPFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RSVP

    event = factory.SubFactory(EventFactory)
    user = factory.SubFactory(UserFactory)
    status = RSVP.Status.GOING
    waitlisted_at = factory.LazyAttribute(
        lambda o: timezone.now() if o.status == RSVP.Status.WAITLISTED else None
    )


class SubscriberFactory(factory.django.DjangoModelFactory):
    """A confirmed reader of the email edition (as if the confirmation link had been used)."""

    class Meta:
        model = Subscriber

    email = factory.Sequence(lambda n: f"reader{n}@example.net")
    key = factory.LazyAttribute(lambda o: o.email.lower())
    state = Subscriber.State.CONFIRMED
    confirmed_at = factory.LazyFunction(timezone.now)
