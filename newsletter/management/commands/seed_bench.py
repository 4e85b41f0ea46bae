"""Fill an empty, migrated PostgreSQL database with a large archive, fast, for the benchmarks.

    python manage.py seed_bench [--issues 200] [--items 25] [--big-issue 40]
        [--submissions 20000] [--pool 500] [--members 2000] [--events 100] [--rsvps 50]
        [--processes N]

It refuses a database that already holds issues, submissions or events. Rows are bulk-created
(the services would take an hour for 20,000 submissions), but every stored rendering comes from
the project's own code (`render_markdown` for summaries and event descriptions,
`newsletter.rendering.render_issue` for each issue and its items) and the search vectors are
those publishing stores, so the pages served are what editors would have published. The newest
issue has `--big-issue` items: the page the benchmark requests. Every submission has the topic
its title names (some a second or third), and the member the benchmark logs in as
(`BENCH_MEMBER`) answers every fifth event. Rendering runs in one process per core. Members'
password is `bench-password`; the first five are editors.

Prints one JSON line on stdout (the paths the benchmark requests and the row counts) and its
progress on stderr. Its vocabulary is in `newsletter/management/bench_vocabulary.py`, which
`bench/pages.py` reads without setting Django up.
"""

from __future__ import annotations

import json
import os
import random
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections, transaction
from django.urls import reverse
from django.utils.text import slugify

from events.models import RSVP, Event
from newsletter import rendering
from newsletter.links.canonical import canonical_key
from newsletter.management.bench_vocabulary import (
    BENCH_MEMBER,
    FIRST_NAMES,
    OPENERS,
    PASSWORD,
    SENTENCES,
    TARGETS,
    TIME_ZONES,
    TOPICS,
)
from newsletter.models import ExtraLink, Issue, IssueItem, Submission, Topic
from newsletter.services.compose import events_section, section_for_kind
from newsletter.services.issues import issue_create
from portal.markdown import render_markdown
from portal.models import User

# Rows written per statement.
BATCH = 2000
SEARCH_CONFIG = "english"
EVENTS_PER_ISSUE = 2
EDITORS = 5

# Share of each kind among submissions.
KIND_WEIGHTS = {"paper": 45, "blog": 20, "tool": 10, "repo": 15, "talk": 5, "other": 5}


def _title(rng: random.Random) -> str:
    return f"{rng.choice(OPENERS)} {rng.choice(TOPICS)} for {rng.choice(TARGETS)}"


def _summary(rng: random.Random, n: int) -> str:
    sentences = rng.sample(SENTENCES, rng.randint(2, 3))
    words = {
        "topic": rng.choice(TOPICS),
        "other": rng.choice(TOPICS),
        "target": rng.choice(TARGETS),
        "n": rng.randint(2, 9),
        "url": f"https://github.com/efficient-ml/project-{n}",
    }
    return " ".join(sentence.format(**words) for sentence in sentences)


def _url(kind: str, n: int, title: str) -> str:
    slug = "-".join(title.lower().split()[:4]).replace("/", "")
    if kind == "paper":
        return f"https://arxiv.org/abs/{2001 + n // 90000:04d}.{n % 90000 + 10000:05d}"
    if kind == "repo":
        return f"https://github.com/lab-{n % 300}/{slug}-{n}"
    if kind == "tool":
        return f"https://tools.example.org/{slug}-{n}"
    if kind == "talk":
        return f"https://www.youtube.com/watch?v=bench{n:06d}"
    if kind == "blog":
        return f"https://blog{n % 50}.example.org/posts/{slug}-{n}"
    return f"https://notes.example.com/{slug}-{n}"


def _render_many(texts: list[str]) -> list[str]:

    return [render_markdown(text) for text in texts]


def _chunks(rows: list, size: int) -> list[list]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _parallel(function, chunks: list, processes: int) -> list:
    """Run `function` over `chunks` in one process per core (forked, after closing DB links)."""

    if processes <= 1 or len(chunks) <= 1:
        return [function(chunk) for chunk in chunks]
    connections.close_all()
    with get_context("fork").Pool(processes) as pool:
        return pool.map(function, chunks)


def _members(rng: random.Random, now: datetime, count: int) -> list:
    """Members with one password and a verified address; the first EDITORS are editors."""

    password = make_password(PASSWORD)
    users = []
    for n in range(count):
        name = f"{rng.choice(FIRST_NAMES)} {n}"
        users.append(
            User(
                username=f"member{n}",
                email=f"member{n}@example.org",
                display_name=name if rng.random() < 0.8 else "",
                password=password,
                timezone=rng.choice(TIME_ZONES),
                credit_me=rng.random() < 0.8,
                is_staff=n < EDITORS,
                date_joined=now - timedelta(days=rng.randint(0, 2000)),
            )
        )
    with transaction.atomic():
        users = User.objects.bulk_create(users, batch_size=BATCH)
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users],
            batch_size=BATCH,
        )
        Group.objects.get(name="Editors").user_set.add(*users[:EDITORS])
    return users


def _submissions(rng, now, users: list, count: int, published: int, processes: int, pool: int):
    """`count` submissions, the first `published` of them in issues, the rest in every other
    state, at most `pool` of them accepted (the composer's pool); some with extra links.
    Returns the rows and each summary's HTML by its text."""

    editors = users[:EDITORS]
    kinds = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()), k=count)
    summaries = [_summary(rng, n) for n in range(count)]
    chunks = _parallel(_render_many, _chunks(summaries, 1000), processes)
    summary_html = [html for chunk in chunks for html in chunk]
    states = ["published"] * published + rng.choices(
        ["pending", "accepted", "rejected", "withdrawn"],
        weights=[40, 10, 40, 10],
        k=count - published,
    )
    # The accepted ones past `pool` (the most recent) were rejected instead: the draw stays the
    # same, so the rest of the archive is as before.
    accepted = [n for n, state in enumerate(states) if state == "accepted"]
    for n in accepted[max(pool, 0) :]:
        states[n] = "rejected"
    rows = []
    for n in range(count):
        title = _title(rng)
        url = _url(kinds[n], n, title)
        state = states[n]
        created = now - timedelta(minutes=(count - n) * 30)
        rows.append(
            Submission(
                author=rng.choice(users),
                url=url,
                canonical_key=canonical_key(url),
                kind=kinds[n],
                title=title,
                summary=summaries[n],
                summary_html=summary_html[n],
                original_title=title,
                original_summary=summaries[n],
                state=state,
                state_changed_at=created + timedelta(days=2),
                decided_by=rng.choice(editors) if state != "pending" else None,
                reject_reason="off-topic" if state == "rejected" else "",
                created_at=created,
            )
        )
    with transaction.atomic():
        rows = Submission.objects.bulk_create(rows, batch_size=BATCH)
        links = []
        for submission in rows:
            if rng.random() < 0.2:
                label = rng.choice(["Code", "Talk", "Slides", "Blog post"])
                url = f"https://github.com/efficient-ml/extra-{submission.pk}"
                links.append(ExtraLink(submission=submission, label=label, url=url))
                if rng.random() < 0.3:
                    url = f"https://arxiv.org/abs/2400.{submission.pk % 90000 + 10000:05d}"
                    links.append(
                        ExtraLink(submission=submission, label="Paper", url=url, position=1)
                    )
        ExtraLink.objects.bulk_create(links, batch_size=BATCH)
    return rows, dict(zip(summaries, summary_html, strict=True))


def _topics(submissions: list) -> int:
    """A topic for each of the vocabulary's, every submission under the one its title names
    (as its submitter would pick), some under a second or third. A random generator of its
    own: the rest of the archive keeps the shape it had before topics. Returns the count."""

    rng = random.Random(13)  # noqa: S311  (the same every time)
    topics = Topic.objects.bulk_create(
        [Topic(name=name, slug=slugify(name), position=n) for n, name in enumerate(TOPICS)]
    )
    by_name = {topic.name: topic for topic in topics}
    through = Submission.topics.through
    rows = []
    for submission in submissions:
        # Titles read "<opener> <topic> for <target>" (_title).
        named = by_name.get(submission.title.partition(" ")[2].rpartition(" for ")[0])
        chosen = {(named or rng.choice(topics)).pk}
        while len(chosen) < 3 and rng.random() < 0.3:
            chosen.add(rng.choice(topics).pk)
        rows += [through(submission_id=submission.pk, topic_id=pk) for pk in sorted(chosen)]
    through.objects.bulk_create(rows, batch_size=BATCH)
    return len(topics)


def _events(rng, now, users: list, count: int, rsvps: int) -> tuple[list, int]:
    """Weekly reading groups and talks, most in the past, every other one with 40 seats, each
    with `rsvps` answers (a waiting list where seats run out). Returns them and the answers.
    The member the benchmark logs in as answers every fifth event (My RSVPs has rows)."""

    editors = users[:EDITORS]
    descriptions = [_summary(rng, n) for n in range(count)]
    description_html = _render_many(descriptions)
    rows = []
    for n in range(count):
        paper = _title(rng)
        start = (now + timedelta(weeks=n - count * 7 // 10)).replace(hour=17, minute=0, second=0)
        cancelled = n % 25 == 13
        rows.append(
            Event(
                title=f"Reading group: {paper}",
                slug=slugify(f"reading-group-{n}-{paper}")[:200],
                kind=Event.Kind.READING_GROUP if n % 4 else Event.Kind.TALK,
                description=descriptions[n],
                description_html=description_html[n],
                start=start,
                end=start + timedelta(hours=1),
                time_zone=rng.choice(TIME_ZONES),
                location=f"https://discord.com/channels/100/{200 + n}",
                resource_title=paper,
                resource_url=f"https://arxiv.org/abs/2300.{n + 10000:05d}",
                capacity=40 if n % 2 else None,
                state=Event.State.CANCELLED if cancelled else Event.State.PUBLISHED,
                cancelled_at=start - timedelta(days=3) if cancelled else None,
                created_by=editors[n % len(editors)],
                created_at=start - timedelta(days=30),
            )
        )
    answers = []
    with transaction.atomic():
        rows = Event.objects.bulk_create(rows, batch_size=BATCH)
        Event.hosts.through.objects.bulk_create(
            [
                Event.hosts.through(event=e, user=editors[i % len(editors)])
                for i, e in enumerate(rows)
            ]
        )
        member = users[BENCH_MEMBER % len(users)]
        for n, event in enumerate(rows):
            answering = rng.sample(users, min(rsvps, len(users)))
            if n % 5 == 0 and member not in answering:
                answering[-1] = member  # the same number of answers, the same draws
            for position, user in enumerate(answering):
                answered = event.created_at + timedelta(minutes=position)
                if event.capacity is not None:
                    going = position < event.capacity
                    status = RSVP.Status.GOING if going else RSVP.Status.WAITLISTED
                else:
                    status = rng.choices(
                        [RSVP.Status.GOING, RSVP.Status.MAYBE, RSVP.Status.NOT_GOING], [7, 2, 1]
                    )[0]
                waitlisted_at = answered if status == RSVP.Status.WAITLISTED else None
                answers.append(
                    RSVP(
                        event=event,
                        user=user,
                        status=status,
                        waitlisted_at=waitlisted_at,
                        created_at=answered,
                    )
                )
        RSVP.objects.bulk_create(answers, batch_size=BATCH)
    return rows, len(answers)


def _item(issue, section, positions: dict[int, int], **fields):
    """An item at the end of its section, as `issue_item_add` places it."""

    position = positions.get(section.pk, 0)
    positions[section.pk] = position + 1
    return IssueItem(issue=issue, section=section, position=position, is_published=True, **fields)


def _issues(rng, now, editors: list, sizes: list[int], submissions: list, events: list):
    """Published issues of `sizes` items: submissions in the order given, grouped by section as
    `issue_item_add` places them, and EVENTS_PER_ISSUE events each. Returns issues and items."""

    spacing = timedelta(days=7) if len(sizes) <= 520 else timedelta(days=1)
    issues = []
    for number in range(1, len(sizes) + 1):
        published = now - spacing * (len(sizes) - number) - timedelta(hours=1)
        theme = rng.choice(TOPICS)
        editor = editors[number % len(editors)]
        issues.append(
            Issue(
                number=number,
                title=f"Issue {number}: {theme} and more",
                slug=slugify(f"issue-{number}-{theme}-and-more"),
                introduction=(
                    f"Welcome to issue {number}! This time, **{theme}** takes the lead, with "
                    f"{rng.choice(TOPICS)} and {rng.choice(TOPICS)} close behind."
                ),
                closing="Thanks for reading, and keep the links coming: *submit yours* on the site.",
                state=Issue.State.PUBLISHED,
                published_at=published,
                published_by=editor,
                state_changed_at=published,
                state_changed_by=editor,
                created_at=published - timedelta(days=5),
            )
        )
    kind_section = {kind: section_for_kind(kind) for kind in KIND_WEIGHTS}
    event_section = events_section()
    kind_order = list(KIND_WEIGHTS)
    items = []
    with transaction.atomic():
        issues = Issue.objects.bulk_create(issues, batch_size=BATCH)
        start = 0
        for issue, size in zip(issues, sizes, strict=True):
            positions: dict[int, int] = {}
            chosen = submissions[start : start + size - EVENTS_PER_ISSUE]
            start += len(chosen)
            for submission in sorted(chosen, key=lambda s: kind_order.index(s.kind)):
                blurb = f"Editors' pick: {submission.summary}" if rng.random() < 0.1 else ""
                section = kind_section[submission.kind]
                items.append(_item(issue, section, positions, submission=submission, blurb=blurb))
            for k in range(EVENTS_PER_ISSUE):
                event = events[(issue.number * EVENTS_PER_ISSUE + k) % len(events)]
                blurb = f"Join us for *{event.resource_title}*."
                items.append(_item(issue, event_section, positions, event=event, blurb=blurb))
        IssueItem.objects.bulk_create(items, batch_size=BATCH)
    return issues, len(items)


@contextmanager
def _memoised_markdown(known: dict[str, str]):
    """`render_markdown` is a pure function: remember its answers while seeding, so a summary
    placed in an issue is not rendered a second time. The stored HTML is the same, byte for byte.
    """

    original = rendering.render_markdown

    def render_markdown(text: str) -> str:
        html = known.get(text)
        if html is None:
            html = known[text] = original(text)
        return html

    rendering.render_markdown = render_markdown
    try:
        yield
    finally:
        rendering.render_markdown = original


def _render_issues(issue_ids: list[int]) -> int:
    """Store each issue's renderings as `newsletter.services.issues.issue_render` does, in bulk."""

    issue_rows, item_rows = [], []
    for issue in Issue.objects.filter(pk__in=issue_ids):
        items = list(rendering.issue_items_queryset(issue))
        rendered = rendering.render_issue(issue, items)
        issue_rows.append(
            (rendered.body_html, rendered.body_markdown, rendered.search_text, issue.pk)
        )
        for item in items:
            text = rendered.item_search.get(item.pk, ("", ""))[1]
            item_rows.append((rendered.item_html.get(item.pk, ""), text, item.pk))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE newsletter_issue SET body_html = %s, body_markdown = %s, search_text = %s"
            " WHERE id = %s",
            issue_rows,
        )
        cursor.executemany(
            "UPDATE newsletter_issueitem SET html = %s, search_text = %s WHERE id = %s", item_rows
        )
    connections.close_all()
    return len(issue_rows)


def _store_search_vectors() -> None:
    """Search vectors as `newsletter.services.issues` stores them at publication (titles weigh
    A, text B), then fresh statistics for the planner, as autovacuum would make soon after."""

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE newsletter_issue SET search_vector ="
            " setweight(to_tsvector(%s::regconfig, COALESCE(title, '')), 'A')"
            " || setweight(to_tsvector(%s::regconfig, COALESCE(search_text, '')), 'B')"
            " WHERE state = 'published'",
            [SEARCH_CONFIG, SEARCH_CONFIG],
        )
        cursor.execute(
            "UPDATE newsletter_issueitem AS i SET search_vector ="
            " setweight(to_tsvector(%s::regconfig, COALESCE(NULLIF(s.title, ''), s.url)), 'A')"
            " || setweight(to_tsvector(%s::regconfig, COALESCE(i.search_text, '')), 'B')"
            " FROM newsletter_submission AS s WHERE s.id = i.submission_id AND i.is_published",
            [SEARCH_CONFIG, SEARCH_CONFIG],
        )
        cursor.execute(
            "UPDATE newsletter_issueitem AS i SET search_vector ="
            " setweight(to_tsvector(%s::regconfig, COALESCE(e.title, '')), 'A')"
            " || setweight(to_tsvector(%s::regconfig, COALESCE(i.search_text, '')), 'B')"
            " FROM events_event AS e WHERE e.id = i.event_id AND i.is_published",
            [SEARCH_CONFIG, SEARCH_CONFIG],
        )
        # The archive's words for "Did you mean", as newsletter.services.search_words keeps them.
        cursor.execute(
            "INSERT INTO newsletter_searchword (word)"
            " SELECT DISTINCT word FROM ("
            "  SELECT regexp_split_to_table(lower(title || ' ' || search_text), '[^a-z''-]+')"
            "  FROM newsletter_issue WHERE state = 'published'"
            "  UNION ALL"
            "  SELECT regexp_split_to_table("
            "   lower(COALESCE(s.title, '') || ' ' || i.search_text), '[^a-z''-]+')"
            "  FROM newsletter_issueitem i"
            "  LEFT JOIN newsletter_submission s ON s.id = i.submission_id WHERE i.is_published"
            " ) AS words (word)"
            " WHERE word ~ '^[a-z][a-z''-]{1,38}[a-z]$'"
            " ON CONFLICT (word) DO NOTHING"
        )
        cursor.execute("VACUUM ANALYZE")


class Command(BaseCommand):
    help = "Fill an empty, migrated PostgreSQL database with a large archive for the benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=200, help="published issues (200)")
        parser.add_argument("--items", type=int, default=25, help="items per issue (25)")
        parser.add_argument("--big-issue", type=int, default=40, help="items of the newest (40)")
        parser.add_argument("--submissions", type=int, default=20_000, help="at least (20,000)")
        parser.add_argument(
            "--pool", type=int, default=500, help="accepted submissions, at most (500)"
        )
        parser.add_argument("--members", type=int, default=2_000, help="members (2,000)")
        parser.add_argument("--events", type=int, default=100, help="events (100)")
        parser.add_argument("--rsvps", type=int, default=50, help="answers per event (50)")
        parser.add_argument("--processes", type=int, default=0, help="default: one per core")

    def handle(self, *args, **options):

        if connection.vendor != "postgresql":
            raise CommandError("seed_bench fills PostgreSQL: set DATABASE_URL=postgres://…")
        if Issue.objects.exists() or Submission.objects.exists() or Event.objects.exists():
            raise CommandError(
                "The database already holds issues, submissions or events; seed an empty one."
            )
        if options["members"] < 1 or options["events"] < 1:
            raise CommandError("Seed at least one member and one event.")
        started = time.perf_counter()

        def log(done: str) -> None:
            if options["verbosity"]:
                self.stderr.write(f"{done} ({time.perf_counter() - started:.1f} s)")

        processes = options["processes"] or os.cpu_count() or 1
        rng = random.Random(7)  # noqa: S311  (the archive's shape, the same every time)
        now = datetime.now(UTC).replace(microsecond=0)
        issues = options["issues"]
        sizes = [options["items"]] * (issues - 1) + [options["big_issue"]] if issues else []
        published = sum(size - EVENTS_PER_ISSUE for size in sizes)
        # Beyond the published ones, a tenth more (at least) wait, were accepted, or not.
        count = max(options["submissions"], published + published // 10)

        users = _members(rng, now, options["members"])
        log(f"members: {len(users)}")
        submissions, known_html = _submissions(
            rng, now, users, count, published, processes, options["pool"]
        )
        log(f"submissions: {len(submissions)}")
        log(f"topics: {_topics(submissions)}")
        events, answers = _events(rng, now, users, options["events"], options["rsvps"])
        log(f"events: {len(events)}, RSVPs: {answers}")
        issue_rows, items = _issues(rng, now, users[:EDITORS], sizes, submissions, events)
        log(f"issues: {len(issue_rows)}, items: {items}")
        ids = [issue.pk for issue in issue_rows]
        with _memoised_markdown(known_html):
            chunk = max(1, -(-len(ids) // (processes * 4)))
            rendered = sum(_parallel(_render_issues, _chunks(ids, chunk), processes))
        log(f"rendered {rendered} issues")
        _store_search_vectors()
        log("search vectors and statistics")

        newest = issue_rows[-1] if issue_rows else None
        # The editors' next issue, for the composer: its pool is every accepted submission
        # (--pool, 500: the issue's "composer with 500 accepted items").
        draft = issue_create(title="The next issue", actor=users[0], introduction="Soon.")
        upcoming = [e for e in events if e.start > now and e.state == Event.State.PUBLISHED]
        event = next((e for e in upcoming if e.capacity), upcoming[0] if upcoming else None)
        # The item page of the newest issue's first item, and the page of the first topic.
        item = (
            IssueItem.objects.filter(issue=newest, submission__isnull=False)
            .select_related("submission")
            .order_by("position", "id")
            .first()
        )
        result = {
            "paths": {
                "issue": newest.get_absolute_url() if newest else None,
                "item": item.submission.get_page_url() if item else None,
                "topic": reverse("newsletter:topic", args=[slugify(TOPICS[0])]),
                "event": event.get_absolute_url() if event else None,
                "compose": reverse("admin:newsletter_issue_compose", args=[draft.pk]),
            },
            "pool": Submission.objects.accepted().count(),
            "issue_items": sizes[-1] if sizes else 0,
            "counts": {
                "members": len(users),
                "submissions": len(submissions),
                "issues": len(issue_rows),
                "items": items,
                "events": len(events),
                "rsvps": answers,
            },
            "seconds": round(time.perf_counter() - started, 1),
        }
        self.stdout.write(json.dumps(result))
