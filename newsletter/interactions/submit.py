"""A submission from Discord: the website's form checks, then the website's service.

Same canonical key, same duplicate answer, same daily limit, same cleaning: `SubmissionForm`
validates what was typed (as on /submit/) and `submission_create` stores it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.urls import reverse

from newsletter.forms import SubmissionForm
from newsletter.links.canonical import arxiv_id, github_repo
from newsletter.models import Kind, Submission
from newsletter.services import submissions as service
from portal.site import absolute_url

KIND_HINT = ", ".join(value for value, _ in Kind.choices)


@dataclass
class Outcome:
    """What became of one link: created, a duplicate, or refused (and why)."""

    url: str
    message: str
    submission: Submission | None = None
    duplicate: bool = False


def my_submissions_url() -> str:
    return absolute_url(reverse("portal:submission-list"))


def kind_from(text: str | None, url: str = "") -> str:
    """A kind typed loosely ("Paper", "blog post", "repo") as its value; guessed when empty."""
    text = (text or "").strip().lower()
    for value, label in Kind.choices:
        if text in (value, label.lower(), label.lower().rstrip("s")):
            return value
    if text:
        return text  # the form refuses it and says which kinds exist
    try:
        if arxiv_id(url):
            return Kind.PAPER
        if github_repo(url):
            return Kind.REPO
    except (TypeError, ValueError):
        pass
    return Kind.OTHER


def duplicate_text(existing: Submission, author) -> str:
    """ "already published in issue #3: <link>" / "waiting for review", as on the website."""
    answer = service.duplicate_answer(existing, viewer=author)
    if answer.url:
        return f"{answer.message.rstrip('.')}: <{absolute_url(answer.url)}>"
    return answer.message


def submit_one(*, author, item: dict) -> Outcome:
    """Check and store one {url, title, summary, kind, note}; never raises for bad input."""
    url = str(item.get("url") or "").strip()
    form = SubmissionForm(
        data={
            "url": url,
            "kind": kind_from(item.get("kind"), url),
            "title": str(item.get("title") or ""),
            "summary": str(item.get("summary") or ""),
            "note_to_editors": str(item.get("note") or ""),
        }
    )
    if not form.is_valid():
        problems = []
        for field, errors in form.errors.items():
            name = "" if field == "__all__" else f"{form.fields[field].label or field}: "
            problems.append(name + " ".join(errors))
        if "kind" in form.errors:
            problems.append(f"The kinds are: {KIND_HINT}.")
        return Outcome(url, " ".join(problems))
    data = form.cleaned_data
    try:
        submission = service.submission_create(
            author=author,
            url=data["url"],
            kind=data["kind"],
            title=data["title"],
            summary=data["summary"],
            note_to_editors=data["note_to_editors"],
            source=Submission.Source.DISCORD,
        )
    except service.DuplicateSubmission as exc:
        return Outcome(url, duplicate_text(exc.existing, author), exc.existing, duplicate=True)
    except ValidationError as exc:  # the daily limit, a link the service refuses
        return Outcome(url, " ".join(exc.messages))
    except ValueError:
        return Outcome(url, "This is not a web link we can accept.")
    title = submission.title or submission.url
    fetching = "" if submission.title else " We are fetching its title now."
    return Outcome(
        url,
        f"Thank you! “{title}” is waiting for the editors' review.{fetching}",
        submission,
    )


def outcomes_text(outcomes: list[Outcome]) -> str:
    lines = [o.message if len(outcomes) == 1 else f"• <{o.url}>: {o.message}" for o in outcomes]
    lines.append(f"Your submissions: <{my_submissions_url()}>")
    return "\n".join(lines)
