"""Load the demo community: people, submissions in every state, the reference edition, events.

    python manage.py demo_data

Safe to run again: everything is looked up before it is created. The reference
edition (March 2023) comes in through the importer editors use for past editions, from a
text of ours (newsletter/data/edition-2023-03.md): the original's headings, titles, links,
dates and layout, with the summaries in our own words.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

import newsletter
from events.models import Event
from events.services import event_save, rsvp_set
from newsletter.models import Issue, Kind, Notification, Submission, Topic
from newsletter.services.endorsements import endorsement_create, endorsement_refusal
from newsletter.services.imports import edition_import
from newsletter.services.issues import issue_render
from newsletter.services.submissions import (
    submission_create,
    submission_find_duplicate,
    submission_transition,
    submission_withdraw,
    topics_change,
)
from newsletter.services.topics import topic_save
from newsletter.services.votes import vote_cast
from portal.models import User
from portal.site import absolute_url

# The March 2023 edition, as pasted from Discord, and when it went out.
REFERENCE_EDITION = Path(newsletter.__file__).parent / "data" / "edition-2023-03.md"
REFERENCE_NUMBER = 1
REFERENCE_PUBLISHED_AT = datetime(2023, 4, 3, 16, 0, tzinfo=UTC)

PASSWORD = "demo-password"  # noqa: S105 (demo accounts on a developer's machine)

PEOPLE = [
    # email, display name, role, time zone
    ("admin@example.org", "Admin", "admin", "UTC"),
    ("ada@example.org", "Ada", "editor", "Europe/London"),
    ("grace@example.org", "Grace", "editor", "America/New_York"),
    ("alan@example.org", "Alan", "member", "Asia/Kolkata"),
    ("katherine@example.org", "Katherine", "member", "America/Los_Angeles"),
    ("linus@example.org", "Linus", "member", "Europe/Helsinki"),
]

# Links waiting for review, so each editor has something to vote on.
PENDING = [
    (
        "ada@example.org",
        "https://arxiv.org/abs/2306.00978",
        Kind.PAPER,
        "AWQ: Activation-aware Weight Quantization for LLM Compression and Acceleration",
        "Protects the 1% of salient weights, found from activations, to quantize the rest to "
        "4 bits with little loss. (An editor's own submission: she cannot vote on it.)",
    ),
    (
        "katherine@example.org",
        "https://arxiv.org/abs/2305.14314",
        Kind.PAPER,
        "QLoRA: Efficient Finetuning of Quantized LLMs",
        "Fine-tunes a 65B model on one 48 GB GPU by training low-rank adapters on top of a frozen "
        "4-bit base model, with a new NF4 data type and paged optimisers.",
    ),
    (
        "linus@example.org",
        "https://arxiv.org/abs/2205.14135",
        Kind.PAPER,
        "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness",
        "Exact attention, but tiled so it never writes the full attention matrix to GPU memory: "
        "faster and lighter on long sequences.",
    ),
    (
        "alan@example.org",
        "https://github.com/vllm-project/vllm",
        Kind.REPO,
        "vLLM",
        "A serving engine for LLMs whose PagedAttention manages the KV cache like virtual memory.",
    ),
    (
        "katherine@example.org",
        "https://huggingface.co/blog/hf-bitsandbytes-integration",
        Kind.BLOG,
        "A Gentle Introduction to 8-bit Matrix Multiplication for transformers at scale",
        "A friendly walk through int8 inference in transformers, with the outlier trick explained.",
    ),
]
ACCEPTED = [
    (
        "linus@example.org",
        "https://github.com/huggingface/peft",
        Kind.REPO,
        "PEFT: State-of-the-art Parameter-Efficient Fine-Tuning",
        "LoRA, prefix tuning and friends behind one API, integrated with transformers.",
    ),
]
REJECTED = [
    (
        "alan@example.org",
        "https://example.com/top-10-ai-tools",
        Kind.BLOG,
        "Top 10 AI tools you must try",
        "A listicle.",
        Submission.RejectReason.OFF_TOPIC,
        "A general list, not about efficiency. Thanks anyway!",
    ),
]
WITHDRAWN = [
    (
        "katherine@example.org",
        "https://arxiv.org/abs/2210.17323",
        Kind.PAPER,
        "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers",
        "One-shot weight quantization to 3 or 4 bits using approximate second-order information.",
    ),
]


# The editors' topic list: (name, slug, description). REFERENCE_TOPICS tags the reference
# edition's items once it is imported.
TOPICS = [
    ("Quantisation", "quantisation", "Fewer bits per weight and activation: int8, 4-bit, GPTQ."),
    ("Distillation", "distillation", "Small students learning from large teachers."),
    ("Sparsity", "sparsity", "Pruning, mixtures of experts and conditional computation."),
    ("Long context", "long-context", "Attention and its alternatives over very long inputs."),
    ("Serving", "serving", "Inference throughput, latency, batching and offloading."),
    ("Efficient training", "efficient-training", "Training for less compute, memory or data."),
    ("Fine-tuning", "fine-tuning", "Adapters, LoRA and other ways to specialise a model."),
    ("Architectures", "architectures", "New model designs and how they scale."),
    ("Multimodal", "multimodal", "Models that see, hear and read."),
    ("Federated learning", "federated-learning", "Training across devices without pooling data."),
    ("On-device", "on-device", "Running models on laptops, phones and small boards."),
]


# The reference edition's links and the topics an editor would give them.
REFERENCE_TOPICS = {
    "https://arxiv.org/abs/2303.16058": ("efficient-training", "multimodal"),
    "https://arxiv.org/abs/2303.06865": ("serving", "quantisation"),
    "https://arxiv.org/abs/2302.10866": ("long-context", "architectures"),
    "https://arxiv.org/abs/2208.07339v2": ("quantisation",),
    "https://arxiv.org/abs/2303.09752": ("long-context", "sparsity"),
    "https://www.ruder.io/modular-deep-learning/": ("fine-tuning", "architectures"),
    "https://flower.dev/docs/tutorial/Flower-0-What-is-FL.html": ("federated-learning",),
    "https://github.com/ggerganov/llama.cpp": ("quantisation", "on-device", "serving"),
}


class Command(BaseCommand):
    help = "Load the demo community (idempotent)."

    def handle(self, *args, **options):
        with transaction.atomic():
            people = {email: self.person(email, name, role, tz) for email, name, role, tz in PEOPLE}
            ada, grace = people["ada@example.org"], people["grace@example.org"]
            alan = people["alan@example.org"]
            for position, (name, slug, description) in enumerate(TOPICS):
                if not Topic.objects.filter(slug=slug).exists():
                    topic = Topic(name=name, slug=slug, description=description, position=position)
                    topic_save(topic=topic)
            if not Issue.objects.filter(number=REFERENCE_NUMBER).exists():
                edition_import(
                    text=REFERENCE_EDITION.read_text(encoding="utf-8"),
                    published_at=REFERENCE_PUBLISHED_AT,
                    number=REFERENCE_NUMBER,
                    actor=ada,
                    author=alan,
                )
                self.tag_reference_items(ada)
            for email, url, kind, title, summary in PENDING + ACCEPTED + WITHDRAWN:
                self.submission(people[email], url, kind, title, summary)
            for email, url, kind, title, summary, reason, note in REJECTED:
                submission = self.submission(people[email], url, kind, title, summary)
                if submission.state == Submission.State.PENDING:
                    submission_transition(
                        submission=submission,
                        to_state=Submission.State.REJECTED,
                        actor=grace,
                        reason=reason,
                        note=note,
                    )
            self.decide(ACCEPTED, Submission.State.ACCEPTED, ada)
            for email, url, *_ in WITHDRAWN:
                submission = submission_find_duplicate(url) or Submission.objects.get(url=url)
                if submission.state == Submission.State.PENDING:
                    submission_withdraw(submission=submission, actor=people[email])
            # Votes that show the queue at work (2 votes for, none against, accept):
            # Grace voting for QLoRA accepts it; FlashAttention is a tie that needs a talk;
            # vLLM and the bitsandbytes post wait for anyone ("not yet voted by me").
            self.vote(PENDING[1][1], ada, 1, "Great for the next issue.")
            self.vote(PENDING[2][1], grace, 1, "A classic, and the v2 paper is out.")
            self.vote(PENDING[2][1], ada, -1, "Covered everywhere already; maybe the v2 instead?")
            # Members who found vLLM already submitted said +1 instead (the editors see why).
            vllm = PENDING[3][1]
            self.endorse(vllm, people["katherine@example.org"], "We serve our chat demo with it.")
            self.endorse(vllm, people["linus@example.org"], "")
            self.events(people)
            self.settle(people.values())
        self.stdout.write(self.style.SUCCESS("Demo community ready."))
        self.stdout.write(
            f"\nLog in at {absolute_url('/accounts/login/')} with password "
            f"“{PASSWORD}” as:\n"
            "  admin   admin@example.org   (superuser: everything, /admin/)\n"
            "  editor  ada@example.org     (votes and composes in /admin/)\n"
            "  editor  grace@example.org\n"
            "  member  alan@example.org    (submits links: /submit/)\n"
        )

    def tag_reference_items(self, editor) -> None:
        """The topics an editor gives the imported edition's items (the paste has none), then
        the issue rendered again with its topic chips (as it was first shown: no correction)."""
        for url, slugs in REFERENCE_TOPICS.items():
            submission = Submission.objects.get(url=url)
            topics_change(submission, list(Topic.objects.filter(slug__in=slugs)), editor)
        issue_render(issue=Issue.objects.get(number=REFERENCE_NUMBER))

    def settle(self, people) -> None:
        """Make the demo look lived-in, not just loaded: its submissions were shared days ago
        (so no member starts at today's flood limit) and its decision emails count as sent
        (the people are invented; nothing is mailed, now or by the sweeper)."""
        now = timezone.now()
        recent = Submission.objects.filter(
            author__in=people, created_at__gte=now - timedelta(days=1)
        )
        published = recent.filter(state=Submission.State.PUBLISHED)
        published.update(created_at=REFERENCE_PUBLISHED_AT - timedelta(days=10))
        for hours, submission in enumerate(recent.order_by("pk"), start=1):
            Submission.objects.filter(pk=submission.pk).update(
                created_at=now - timedelta(days=2, hours=hours)
            )
        Notification.objects.filter(submission__author__in=people, sent_at__isnull=True).update(
            sent_at=now
        )

    def person(self, email, name, role, tz) -> User:
        user, created = User.objects.get_or_create(
            email=email,
            defaults={
                "username": email.split("@")[0],
                "display_name": name,
                "timezone": tz,
                "is_staff": role in ("admin", "editor"),
                "is_superuser": role == "admin",
            },
        )
        if created:
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        if role == "editor":
            user.groups.add(Group.objects.get(name="Editors"))
        return user

    def submission(self, author, url, kind, title, summary) -> Submission:
        existing = submission_find_duplicate(url) or Submission.objects.filter(url=url).first()
        if existing:
            return existing
        return submission_create(author=author, url=url, kind=kind, title=title, summary=summary)

    def decide(self, rows, state, editor) -> None:
        for _email, url, *_ in rows:
            submission = submission_find_duplicate(url)
            if submission and submission.state == Submission.State.PENDING:
                submission_transition(submission=submission, to_state=state, actor=editor)

    def vote(self, url, editor, value, comment) -> None:
        submission = submission_find_duplicate(url)
        if (
            submission
            and submission.state == Submission.State.PENDING
            and not submission.votes.filter(editor=editor).exists()
        ):
            vote_cast(submission=submission, editor=editor, value=value, comment=comment)

    def endorse(self, url, member, reason) -> None:
        submission = submission_find_duplicate(url)
        if submission and not endorsement_refusal(submission=submission, member=member):
            endorsement_create(submission=submission, member=member, reason=reason)

    def events(self, people) -> None:
        """Upcoming events to RSVP to, one nearly full (the reference edition's reading group,
        now past, came with it)."""
        ada = people["ada@example.org"]
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        upcoming = [
            (
                "reading-group-distilling-step-by-step",
                "Reading group: Distilling Step-by-Step",
                now + timedelta(days=9, hours=17 - now.hour),
                "We continue the distillation theme with *Distilling Step-by-Step!*: smaller "
                "models trained on rationales extracted from a large one.",
                ("Distilling Step-by-Step!", "https://arxiv.org/abs/2305.02301"),
                3,
            ),
            (
                "talk-quantization-in-practice",
                "Talk: quantization in practice",
                now + timedelta(days=20, hours=16 - now.hour),
                "A member walks through what int8 and 4-bit quantization cost and save on real "
                "workloads, followed by questions.",
                ("", ""),
                None,
            ),
        ]
        for slug, title, start, description, (res_title, res_url), capacity in upcoming:
            if Event.objects.filter(slug=slug).exists():
                continue
            event = event_save(
                event=Event(
                    slug=slug,
                    title=title,
                    kind=Event.Kind.READING_GROUP if "reading" in slug else Event.Kind.TALK,
                    description=description,
                    start=start,
                    end=start + timedelta(hours=1),
                    time_zone="Europe/London",
                    location="https://discord.com/channels/000000000000000000/000000000000000001",
                    resource_title=res_title,
                    resource_url=res_url,
                    capacity=capacity,
                    state=Event.State.PUBLISHED,
                ),
                by=ada,
            )
            event.hosts.add(ada)
            if capacity:
                for email in ("alan@example.org", "katherine@example.org"):
                    rsvp_set(event=event, user=people[email], status="going", confirm=False)
