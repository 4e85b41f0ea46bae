"""British and American spellings of this field's words find each other in search."""

import pytest
from django.urls import reverse

from newsletter.services.compose import issue_item_add
from newsletter.services.issues import issue_publish
from newsletter.spelling import query_variants, spellings
from tests.newsletter.issue_data import accepted, draft_issue

# (British, American): at least 30 words of machine learning writing.
PAIRS = [
    ("quantisation", "quantization"),
    ("quantised", "quantized"),
    ("optimiser", "optimizer"),
    ("optimisation", "optimization"),
    ("tokeniser", "tokenizer"),
    ("tokenisation", "tokenization"),
    ("normalisation", "normalization"),
    ("regularisation", "regularization"),
    ("generalisation", "generalization"),
    ("parallelise", "parallelize"),
    ("vectorised", "vectorized"),
    ("summarisation", "summarization"),
    ("visualisation", "visualization"),
    ("initialisation", "initialization"),
    ("binarised", "binarized"),
    ("discretisation", "discretization"),
    ("randomised", "randomized"),
    ("minimise", "minimize"),
    ("characterising", "characterizing"),
    ("specialised", "specialized"),
    ("recognising", "recognizing"),
    ("serialisation", "serialization"),
    ("utilisation", "utilization"),
    ("analyse", "analyze"),
    ("analysing", "analyzing"),
    ("behaviour", "behavior"),
    ("behavioural", "behavioral"),
    ("colour", "color"),
    ("favourite", "favorite"),
    ("modelling", "modeling"),
    ("labelled", "labeled"),
    ("labelling", "labeling"),
    ("signalling", "signaling"),
    ("travelling", "traveling"),
    ("centre", "center"),
    ("licence", "license"),
    ("catalogue", "catalog"),
    ("dialogue", "dialog"),
    ("greyscale", "grayscale"),
    ("artefacts", "artifacts"),
    ("programme", "program"),
]


def test_the_list_is_long_enough():
    assert len(PAIRS) >= 30
    assert len({british for british, _ in PAIRS}) == len(PAIRS)


@pytest.mark.parametrize(("british", "american"), PAIRS)
def test_each_spelling_knows_the_other(british, american):
    assert american in spellings(british)
    assert british in spellings(american)


@pytest.mark.parametrize(
    "word", ["size", "rise", "precise", "advertise", "four", "hour", "model", "promise", "noise"]
)
def test_words_that_only_look_like_a_family_keep_one_spelling(word):
    assert spellings(word) == [word]


def test_a_left_out_word_is_left_out_in_every_spelling():
    assert query_variants('"colour models" -quantization') == [
        '"colour models" -quantization -quantisation',
        '"color models" -quantization -quantisation',
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("british", "american"), PAIRS)
def test_searching_one_spelling_finds_items_in_the_other(client, british, american):
    issue = draft_issue()
    for spelling in (british, american):
        submission = accepted(title="Notes", summary=f"A study of {spelling} in practice.")
        issue_item_add(issue=issue, submission=submission)
    issue_publish(issue=issue)

    for query in (british, american):
        response = client.get(reverse("newsletter:search"), {"q": query})
        assert len(response.context["hits"]) == 2, query
        assert all("<mark>" in str(hit.snippet) for hit in response.context["hits"])
