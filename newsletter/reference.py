"""The March 2023 edition, the format this newsletter reproduces, as data, and its builder.

Titles, links, kinds, extra links and the event are those of the original edition (with its
malformed CoLT5 link corrected); the summaries are written afresh for this project. The demo
data and the tests build it through the same services editors use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import transaction

from events.models import Event
from events.services import event_save
from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_create, issue_publish
from newsletter.services.submissions import (
    submission_create,
    submission_find_duplicate,
    submission_transition,
)

from .models import Issue, Kind, Section, Submission, Topic


@dataclass(frozen=True)
class ReferenceItem:
    title: str
    url: str
    kind: str
    summary: str
    section: str  # Section slug
    extra_links: tuple[tuple[str, str], ...] = field(default=())
    topics: tuple[str, ...] = ()  # Topic slugs (demo_data creates the topics)


NUMBER = 1
TITLE = "What happened in ML Efficiency in March 2023?"
PUBLISHED_AT = datetime(2023, 4, 3, 16, 0, tzinfo=UTC)
# The introduction and closing follow the original's shape in our own words.
INTRODUCTION = (
    "Welcome, #ml-efficiency! Here is the very first community newsletter of the ml-efficiency "
    "group at C4AI: papers worth your time, tools, what the community talked about, and the "
    "events coming up."
)
CLOSING = (
    "That is all for this first edition of the C4AI ML Efficiency newsletter. Tell us what you "
    "think and what you would like to read next! We hoped to fit it all into one Discord "
    "message, and ran into the 2000-character limit almost at once.\n\n"
    "Most of what you read here comes from the links you share, so please keep them coming! ❤️"
)

ITEMS: tuple[ReferenceItem, ...] = (
    ReferenceItem(
        title="Unmasked Teacher: Towards Training-Efficient Video Foundation Models",
        url="https://arxiv.org/abs/2303.16058",
        topics=("efficient-training", "multimodal"),
        kind=Kind.PAPER,
        section="papers-and-posts",
        summary=(
            "Most video tokens are masked away, and the few that remain learn from an image "
            "model acting as teacher: pre-training a video model becomes far cheaper."
        ),
    ),
    ReferenceItem(
        title="High-throughput Generative Inference of Large Language Models with a Single GPU",
        url="https://arxiv.org/abs/2303.06865",
        topics=("serving", "quantisation"),
        kind=Kind.PAPER,
        section="papers-and-posts",
        summary=(
            "FlexGen runs batch generation with very large language models on one ordinary "
            "GPU, spreading weights and the attention cache over GPU memory, CPU memory and "
            "disk, and compressing both to 4 bits."
        ),
    ),
    ReferenceItem(
        title="Hyena Hierarchy: Towards Larger Convolutional Language Models",
        url="https://arxiv.org/abs/2302.10866",
        topics=("long-context", "architectures"),
        kind=Kind.PAPER,
        section="papers-and-posts",
        summary=(
            "Attention is swapped for long convolutions combined with gating, so the cost "
            "grows almost linearly with the length of the sequence while quality stays close "
            "to a Transformer's."
        ),
    ),
    ReferenceItem(
        title="LLM.int8(): 8-bit Matrix Multiplication for Transformers at Scale",
        url="https://arxiv.org/abs/2208.07339v2",
        topics=("quantisation",),
        kind=Kind.PAPER,
        section="papers-and-posts",
        summary=(
            "Inference of very large Transformers in 8-bit integers, with the rare outlier "
            "features kept in 16 bits: half the memory, and no loss of accuracy."
        ),
        extra_links=(
            ("Tim Dettmers' C4AI talk", "https://www.youtube.com/watch?v=jyOqtw4ry2w"),
            ("Code", "https://paperswithcode.com/paper/llm-int8-8-bit-matrix-multiplication-for"),
        ),
    ),
    ReferenceItem(
        title="CoLT5: Faster Long-Range Transformers with Conditional Computation",
        url="https://arxiv.org/abs/2303.09752",
        topics=("long-context", "sparsity"),
        kind=Kind.PAPER,
        section="papers-and-posts",
        summary=(
            "A router picks the tokens that matter; only those get the heavy attention and "
            "feedforward branches, the rest a light one, so long documents cost much less."
        ),
    ),
    ReferenceItem(
        title="Modular Deep Learning",
        url="https://www.ruder.io/modular-deep-learning/",
        topics=("fine-tuning", "architectures"),
        kind=Kind.BLOG,
        section="papers-and-posts",
        summary=(
            "A survey of modules, routing and aggregation in neural networks, and of how "
            "composing parts helps transfer, reuse and adding new skills to a model."
        ),
        extra_links=(
            ("Summary tweet", "https://twitter.com/seb_ruder/status/1628721434162765827"),
            ("Jonas Pfeiffer's C4AI talk", "https://www.youtube.com/watch?v=3ycETDjVzOQ"),
        ),
    ),
    ReferenceItem(
        title="Flower",
        url="https://flower.dev/docs/tutorial/Flower-0-What-is-FL.html",
        topics=("federated-learning",),
        kind=Kind.TOOL,
        section="tool-spotlight",
        summary=(
            "An open-source framework for federated learning; its tutorial series is a gentle "
            "way into the subject."
        ),
    ),
    ReferenceItem(
        title="Llama.cpp",
        url="https://github.com/ggerganov/llama.cpp",
        topics=("quantisation", "on-device", "serving"),
        kind=Kind.REPO,
        section="repo-spotlight",
        summary=(
            "LLaMA inference in plain C/C++ with 4-bit quantisation, quick enough for the CPU "
            "of a laptop."
        ),
        extra_links=(
            (
                "Jeremy Howard's thread on how mmap makes this possible",
                "https://twitter.com/jeremyphoward/status/1642726595436883969",
            ),
        ),
    ),
)

EVENT_TITLE = "Reading group on Knowledge Distillation: Model Compression by Caruana et al."
EVENT_SLUG = "reading-group-knowledge-distillation-model-compression"
EVENT_START = datetime.fromtimestamp(1681491600, tz=UTC)  # 14 April 2023, 17:00 UTC
EVENT_RESOURCE = ("Model Compression", "https://www.cs.cornell.edu/~caruana/compression.kdd06.pdf")
EVENT_BLURB = (
    "Our first reading group opens the theme of knowledge distillation with the paper where it "
    "began: squeezing a large ensemble into one small, fast model."
)

# Section slugs in the order the edition shows them.
SECTIONS = ("papers-and-posts", "tool-spotlight", "repo-spotlight", "upcoming-events")


def reference_event(*, by=None) -> Event:
    """The reading group of the edition, published (created once)."""

    existing = Event.objects.filter(slug=EVENT_SLUG).first()
    if existing is not None:
        return existing
    event = Event(
        title=EVENT_TITLE,
        slug=EVENT_SLUG,
        kind=Event.Kind.READING_GROUP,
        description="We read *Model Compression* (Buciluă, Caruana and Niculescu-Mizil, 2006).",
        start=EVENT_START,
        end=EVENT_START + timedelta(hours=1),
        resource_title=EVENT_RESOURCE[0],
        resource_url=EVENT_RESOURCE[1],
        state=Event.State.PUBLISHED,
    )
    return event_save(event=event, by=by)


def reference_edition_build(*, author, editor, publish: bool = True) -> Issue:
    """Submit and accept the edition's links, compose issue #1 from them, and publish it.

    `author` submits every link (credited if their profile allows it); `editor` accepts and
    publishes. The issue's time is the original edition's.
    """
    with transaction.atomic():
        sections = {section.slug: section for section in Section.objects.all()}
        issue = issue_create(
            number=NUMBER,
            title=TITLE,
            introduction=INTRODUCTION,
            closing=CLOSING,
            actor=editor,
        )
        for entry in ITEMS:
            submission = submission_find_duplicate(entry.url)
            if submission is None:
                submission = submission_create(
                    author=author,
                    url=entry.url,
                    kind=entry.kind,
                    title=entry.title,
                    summary=entry.summary,
                    extra_links=entry.extra_links,
                    topics=Topic.objects.filter(slug__in=entry.topics),
                )
            if submission.state == Submission.State.PENDING:
                submission = submission_transition(
                    submission=submission, to_state=Submission.State.ACCEPTED, actor=editor
                )
            issue_item_add(
                issue=issue,
                submission=submission,
                section=sections[entry.section],
                actor=editor,
            )
        event = reference_event(by=editor)
        issue_item_add(
            issue=issue,
            event=event,
            section=sections[SECTIONS[-1]],
            blurb=EVENT_BLURB,
            actor=editor,
        )
        if publish:
            issue = issue_publish(issue=issue, actor=editor, published_at=PUBLISHED_AT)
    return issue
