"""The kind of a link, guessed from its address: each family of hosts, and the form's "auto"."""

import json

import pytest
from django.urls import reverse

from newsletter.forms import SubmissionForm
from newsletter.links.kinds import KIND_RULES, kind_from_url, kind_rules_for_script
from newsletter.models import Kind, Submission

PAPERS = [
    "https://arxiv.org/abs/2210.17323",
    "https://export.arxiv.org/pdf/2210.17323v2",
    "https://openreview.net/forum?id=tcbBPnfwxS",
    "https://aclanthology.org/2023.acl-long.1/",
    "https://proceedings.neurips.cc/paper_files/paper/2022/hash/abc-Abstract.html",
    "https://proceedings.mlr.press/v202/frantar23a.html",
    "https://huggingface.co/papers/2306.00978",
]
REPOSITORIES = [
    "https://github.com/ggerganov/llama.cpp",
    "https://www.github.com/IST-DASLab/gptq/tree/main/zeroShot",
    "https://gitlab.com/inkscape/inkscape",
    "https://huggingface.co/TheBloke/Llama-2-7B-GPTQ",
    "https://huggingface.co/datasets/allenai/c4",
    "https://huggingface.co/spaces/HuggingFaceH4/open_llm_leaderboard",
    "https://codeberg.org/forgejo/forgejo",
]
TALKS = [
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://youtu.be/dQw4w9WgXcQ",
    "https://vimeo.com/123456",
]
TOOLS = [
    "https://pypi.org/project/auto-gptq/",
    "https://docs.vllm.ai/en/latest/",
    "https://llama-cpp-python.readthedocs.io/en/latest/",
    "https://huggingface.co/docs/transformers/main_classes/quantization",
    "https://crates.io/crates/candle-core",
]
BLOG_POSTS = [
    "https://huggingface.co/blog/4bit-transformers-bitsandbytes",
    "https://lilianweng.github.io/posts/2023-01-10-inference-optimization/",
    "https://example.org/a-post",
    # A host alone, without an owner and a project, is not a repository.
    "https://github.com/ggerganov",
    "https://github.com/",
]


@pytest.mark.parametrize(
    ("url", "kind"),
    [(u, Kind.PAPER) for u in PAPERS]
    + [(u, Kind.REPO) for u in REPOSITORIES]
    + [(u, Kind.TALK) for u in TALKS]
    + [(u, Kind.TOOL) for u in TOOLS]
    + [(u, Kind.BLOG) for u in BLOG_POSTS],
)
def test_kind_from_url_each_family_of_hosts(url, kind):
    assert kind_from_url(url) == kind


@pytest.mark.parametrize(
    "url",
    ["", "not a link", "https://[broken", "https://notarxiv.org/abs/1", "https://arxiv.org.evil/x"],
)
def test_kind_from_url_lookalikes_and_garbage_are_blog_posts(url):
    assert kind_from_url(url) == Kind.BLOG


def test_kind_rules_for_script_is_the_same_table():
    table = kind_rules_for_script()
    assert json.loads(json.dumps(table)) == table
    assert [(r["host"], r["path"], r["kind"]) for r in table["rules"]] == [
        (h, p, str(k)) for h, p, k in KIND_RULES
    ]
    assert table["default"] == "blog"


def _form(**data):
    return SubmissionForm({"url": "https://github.com/ggerganov/llama.cpp", **data})


def test_form_auto_kind_is_read_from_the_link():
    form = _form(kind="auto")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["kind"] == Kind.REPO


def test_form_kind_chosen_by_hand_wins():
    form = _form(kind="paper")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["kind"] == Kind.PAPER


def test_form_offers_auto_first_and_by_default():
    form = SubmissionForm()
    assert list(form.fields["kind"].choices)[0][0] == "auto"
    assert form["kind"].value() == "auto"


@pytest.mark.django_db
def test_submit_with_auto_kind_stores_the_guess_and_the_page_carries_the_rules(member_client):
    page = member_client.get(reverse("portal:submission-create")).content.decode()
    assert 'id="kind-rules"' in page
    assert "Work it out from the link" in page
    response = member_client.post(
        reverse("portal:submission-create"),
        {
            "url": "https://github.com/ggerganov/llama.cpp",
            "kind": "auto",
            "title": "llama.cpp",
            "links-TOTAL_FORMS": "3",
            "links-INITIAL_FORMS": "0",
            "links-MIN_NUM_FORMS": "0",
            "links-MAX_NUM_FORMS": "3",
        },
    )
    assert response.status_code == 302
    assert Submission.objects.get().kind == Kind.REPO
