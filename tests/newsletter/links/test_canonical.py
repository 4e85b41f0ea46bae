"""Canonical keys decide what counts as a duplicate submission, so these tables use real links."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.links.canonical import (
    CANONICAL_VERSION,
    arxiv_id,
    canonical_key,
    clean_url,
    github_repo,
)

SAME_ITEM = [
    # arXiv: abs/pdf/html, versions, .pdf, export mirror, old-style ids, and sites keyed by the arXiv id.
    ("https://arxiv.org/abs/2303.16058", "https://arxiv.org/pdf/2303.16058"),
    ("https://arxiv.org/abs/2303.16058", "https://arxiv.org/pdf/2303.16058v2.pdf"),
    ("https://arxiv.org/abs/2303.16058v2", "http://export.arxiv.org/abs/2303.16058"),
    ("https://arxiv.org/abs/2208.07339v2", "https://arxiv.org/html/2208.07339v1/#S3"),
    ("https://arxiv.org/abs/2208.07339v2", "https://www.arxiv.org/abs/2208.07339?context=cs"),
    ("https://arxiv.org/abs/1706.03762", "https://arxiv.org/abs/arXiv:1706.03762v7"),
    ("https://arxiv.org/abs/hep-th/9901001", "https://arxiv.org/pdf/hep-th/9901001v1"),
    ("https://arxiv.org/abs/math.GT/0309136", "https://arxiv.org/abs/math/0309136v1"),
    ("https://arxiv.org/abs/2208.07339", "https://huggingface.co/papers/2208.07339"),
    ("https://arxiv.org/abs/2208.07339", "https://doi.org/10.48550/arXiv.2208.07339"),
    # GitHub repository roots.
    ("https://github.com/ggerganov/llama.cpp", "https://github.com/ggerganov/llama.cpp.git"),
    ("https://github.com/ggerganov/llama.cpp", "https://github.com/ggerganov/llama.cpp/"),
    (
        "https://github.com/ggerganov/llama.cpp",
        "https://github.com/ggerganov/llama.cpp/tree/master",
    ),
    ("https://github.com/ggerganov/llama.cpp", "https://GitHub.com/GGerganov/Llama.CPP"),
    (
        "https://github.com/ggerganov/llama.cpp",
        "https://github.com/ggerganov/llama.cpp?tab=readme-ov-file#quick-start",
    ),
    (
        "https://github.com/huggingface/transformers",
        "http://www.github.com/huggingface/transformers/",
    ),
    (
        "https://github.com/ggerganov/llama.cpp/issues/5",
        "https://github.com/GGerganov/Llama.cpp/issues/5/",
    ),
    # OpenReview forum and PDF pages of one paper.
    ("https://openreview.net/forum?id=YicbFdNTTy", "https://openreview.net/pdf?id=YicbFdNTTy"),
    (
        "https://openreview.net/forum?id=YicbFdNTTy",
        "https://openreview.net/forum?id=YicbFdNTTy&noteId=Vt3pxkJOWDh",
    ),
    # YouTube videos.
    ("https://www.youtube.com/watch?v=jyOqtw4ry2w", "https://youtu.be/jyOqtw4ry2w"),
    (
        "https://www.youtube.com/watch?v=jyOqtw4ry2w",
        "https://m.youtube.com/watch?v=jyOqtw4ry2w&feature=share",
    ),
    ("https://www.youtube.com/watch?v=jyOqtw4ry2w", "https://www.youtube.com/embed/jyOqtw4ry2w"),
    (
        "https://www.youtube.com/watch?v=jyOqtw4ry2w",
        "https://youtu.be/jyOqtw4ry2w?si=AbCdEf123&t=42",
    ),
    # Twitter / X posts.
    (
        "https://twitter.com/jeremyphoward/status/1642726595436883969",
        "https://x.com/jeremyphoward/status/1642726595436883969",
    ),
    (
        "https://twitter.com/jeremyphoward/status/1642726595436883969",
        "https://mobile.twitter.com/jeremyphoward/status/1642726595436883969?s=20&t=Ab3xYz",
    ),
    (
        "https://twitter.com/jeremyphoward/status/1642726595436883969",
        "https://twitter.com/i/web/status/1642726595436883969",
    ),
    (
        "https://twitter.com/jeremyphoward/status/1642726595436883969",
        "https://x.com/jeremyphoward/status/1642726595436883969/photo/1",
    ),
    # Everything else: scheme, www., trailing slash, fragment, tracking, ports, case, encoding, order.
    ("https://www.ruder.io/modular-deep-learning/", "https://ruder.io/modular-deep-learning"),
    (
        "https://www.ruder.io/modular-deep-learning/",
        "http://www.ruder.io/modular-deep-learning/?utm_source=newsletter&utm_medium=email&utm_campaign=nlp",
    ),
    (
        "https://www.ruder.io/modular-deep-learning/",
        "https://www.ruder.io/modular-deep-learning/#fn1",
    ),
    (
        "https://flower.dev/docs/tutorial/Flower-0-What-is-FL.html",
        "https://FLOWER.dev:443/docs/tutorial/Flower-0-What-is-FL.html?fbclid=IwAR3xyz",
    ),
    (
        "https://www.cs.cornell.edu/~caruana/compression.kdd06.pdf",
        "http://www.cs.cornell.edu/%7Ecaruana/compression.kdd06.pdf",
    ),
    (
        "https://paperswithcode.com/paper/llm-int8-8-bit-matrix-multiplication-for",
        "https://paperswithcode.com/paper/llm-int8-8-bit-matrix-multiplication-for/?gclid=Cj0KCQ",
    ),
    (
        "https://news.ycombinator.com/item?id=35371018",
        "http://news.ycombinator.com:80/item?id=35371018",
    ),
    (
        "https://en.wikipedia.org/wiki/Federated_learning",
        "https://en.m.wikipedia.org/wiki/Federated_learning",
    ),
    (
        "https://en.wikipedia.org/wiki/Federated_learning",
        "https://en.wikipedia.org/wiki/Federated%5Flearning",
    ),
    ("https://de.wikipedia.org/wiki/München", "https://de.wikipedia.org/wiki/M%c3%bcnchen"),
    ("https://bücher.de/", "https://xn--bcher-kva.de"),
    (
        "https://huggingface.co/models?sort=trending&search=llama",
        "https://huggingface.co/models?search=llama&sort=trending",
    ),
    (
        "https://medium.com/@karpathy/software-2-0-a64152b37c35",
        "https://medium.com/@karpathy/software-2-0-a64152b37c35?source=rss-ac9d9a35533e------2",
    ),
    (
        "https://www.deeplearning.ai/the-batch/",
        "https://www.deeplearning.ai/the-batch/?mc_cid=8a1b2c&mc_eid=3d4e5f&_hsenc=p2AN&_hsmi=25",
    ),
    (
        "https://pytorch.org/docs/stable/generated/torch.compile.html",
        "https://pytorch.org/docs/stable/notes/../generated/./torch.compile.html",
    ),
]

DIFFERENT_ITEMS = [
    ("https://arxiv.org/abs/2303.16058", "https://arxiv.org/abs/2208.07339"),
    ("https://arxiv.org/abs/2303.16058", "https://arxiv.org/abs/2303.16059"),
    ("https://arxiv.org/abs/hep-th/9901001", "https://arxiv.org/abs/hep-ph/9901001"),
    ("https://github.com/ggerganov/llama.cpp", "https://github.com/ggerganov/llama.cpp/issues/5"),
    ("https://github.com/ggerganov/llama.cpp", "https://github.com/ggerganov/llama.cpp/pull/1684"),
    (
        "https://github.com/ggerganov/llama.cpp",
        "https://github.com/ggerganov/llama.cpp/blob/master/README.md",
    ),
    (
        "https://github.com/ggerganov/llama.cpp",
        "https://github.com/ggerganov/llama.cpp/tree/master/examples",
    ),
    ("https://github.com/ggerganov/llama.cpp", "https://github.com/ggerganov/whisper.cpp"),
    ("https://github.com/ggerganov/llama.cpp", "https://github.com/ggerganov"),
    (
        "https://github.com/ggerganov/llama.cpp/issues/5",
        "https://github.com/ggerganov/llama.cpp/issues/6",
    ),
    ("https://openreview.net/forum?id=YicbFdNTTy", "https://openreview.net/forum?id=nZeVKeeFYf9"),
    (
        "https://news.ycombinator.com/item?id=35371018",
        "https://news.ycombinator.com/item?id=35371019",
    ),
    ("https://huggingface.co/models?search=llama", "https://huggingface.co/models?search=mistral"),
    ("https://www.youtube.com/watch?v=jyOqtw4ry2w", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    (
        "https://www.youtube.com/watch?v=jyOqtw4ry2w",
        "https://www.youtube.com/playlist?list=PLAqhIrjkxbuWI23v9cThsA9GvCAUhRvKZ",
    ),
    (
        "https://twitter.com/jeremyphoward/status/1642726595436883969",
        "https://twitter.com/jeremyphoward/status/1642726595436883970",
    ),
    (
        "https://twitter.com/jeremyphoward/status/1642726595436883969",
        "https://twitter.com/jeremyphoward",
    ),
    # `s` is tracking on Twitter only; on a blog it is the search term.
    ("https://www.ruder.io/?s=transformers", "https://www.ruder.io/?s=modular"),
    (
        "https://flower.dev/docs/tutorial/Flower-0-What-is-FL.html",
        "https://flower.dev/docs/tutorial/Flower-1-Federated-Learning-with-PyTorch.html",
    ),
    (
        "https://en.wikipedia.org/wiki/Federated_learning",
        "https://de.wikipedia.org/wiki/Federated_learning",
    ),
    ("https://pytorch.org/blog/", "https://discuss.pytorch.org/"),
    ("https://doi.org/10.1145/1150402.1150464", "https://doi.org/10.1145/1150402.1150465"),
    ("https://example.com/a%2Fb", "https://example.com/a/b"),
]


@pytest.mark.parametrize(("first", "second"), SAME_ITEM)
def test_canonical_key_same_item_variants_match(first: str, second: str) -> None:
    assert canonical_key(first) == canonical_key(second)


@pytest.mark.parametrize(("first", "second"), DIFFERENT_ITEMS)
def test_canonical_key_different_items_differ(first: str, second: str) -> None:
    assert canonical_key(first) != canonical_key(second)


def test_same_and_different_tables_are_large_enough() -> None:
    assert len(SAME_ITEM) >= 30
    assert len(DIFFERENT_ITEMS) >= 12


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://arxiv.org/pdf/2303.16058v2.pdf", "arxiv:2303.16058"),
        ("https://arxiv.org/abs/hep-th/9901001v2", "arxiv:hep-th/9901001"),
        ("https://arxiv.org/abs/math.GT/0309136", "arxiv:math/0309136"),
        ("https://github.com/GGerganov/Llama.cpp.git/", "github:ggerganov/llama.cpp"),
        ("https://openreview.net/pdf?id=YicbFdNTTy", "openreview:YicbFdNTTy"),
        ("https://youtu.be/jyOqtw4ry2w", "youtube:jyOqtw4ry2w"),
        (
            "https://x.com/jeremyphoward/status/1642726595436883969?s=20",
            "twitter:1642726595436883969",
        ),
        ("https://dx.doi.org/10.1145/1150402.1150464", "doi:10.1145/1150402.1150464"),
        ("https://www.ruder.io/modular-deep-learning/", "ruder.io/modular-deep-learning"),
        ("HTTPS://Example.com:443/path/?utm_source=x&a=1#top", "example.com/path?a=1"),
        ("http://example.com:8080/", "example.com:8080"),
        ("https://example.com/search?q=a+b&lang=en", "example.com/search?lang=en&q=a+b"),
        (
            "https://github.com/ggerganov/llama.cpp/issues/5",
            "github.com/ggerganov/llama.cpp/issues/5",
        ),
        ("https://arxiv.org/list/cs.LG/recent", "arxiv.org/list/cs.LG/recent"),
    ],
)
def test_canonical_key_shape_is_stable(url: str, key: str) -> None:
    assert canonical_key(url) == key


@pytest.mark.parametrize(
    ("url", "cleaned"),
    [
        (
            "https://www.ruder.io/modular-deep-learning/?utm_source=newsletter&utm_medium=email#top",
            "https://www.ruder.io/modular-deep-learning/",
        ),
        (
            "HTTPS://WWW.YouTube.com/watch?v=jyOqtw4ry2w&feature=share&t=42s",
            "https://www.youtube.com/watch?v=jyOqtw4ry2w&t=42s",
        ),
        (
            "https://x.com/jeremyphoward/status/1642726595436883969?s=20&t=Ab3xYz",
            "https://x.com/jeremyphoward/status/1642726595436883969",
        ),
        ("http://Example.com:80", "http://example.com/"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("https://user:secret@example.com/private", "https://example.com/private"),
        ("https://example.com/a b?q=x y", "https://example.com/a%20b?q=x%20y"),
        ("https://de.wikipedia.org/wiki/München", "https://de.wikipedia.org/wiki/München"),
        ("https://example.com/?b=2&a=1&fbclid=IwAR3", "https://example.com/?b=2&a=1"),
        ("  https://arxiv.org/abs/2303.16058v2  ", "https://arxiv.org/abs/2303.16058v2"),
        (
            "https://github.com/ggerganov/llama.cpp.git",
            "https://github.com/ggerganov/llama.cpp.git",
        ),
    ],
)
def test_clean_url_strips_noise_and_keeps_link(url: str, cleaned: str) -> None:
    assert clean_url(url) == cleaned


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "not a url",
        "javascript:alert(document.cookie)",
        "file:///etc/passwd",
        "ftp://ftp.gnu.org/gnu/",
        "mailto:editors@example.com",
        "data:text/html,<script>alert(1)</script>",
        "arxiv.org/abs/2303.16058",
        "//github.com/ggerganov/llama.cpp",
        "https://",
        "https:///path-without-host",
        "https://exa mple.com/",
        "https://arxiv..org/abs/2303.16058",
        "http://example.com:99999/",
    ],
)
def test_canonical_key_non_web_link_raises_value_error(url: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        canonical_key(url)
    with pytest.raises(ValueError, match=r"\S"):
        clean_url(url)


def test_canonical_key_ftp_error_names_allowed_schemes() -> None:
    with pytest.raises(ValueError, match="Only http:// and https://"):
        canonical_key("ftp://ftp.gnu.org/gnu/")


def test_canonical_key_non_string_raises_type_error() -> None:
    with pytest.raises(TypeError):
        canonical_key(None)  # type: ignore[arg-type]


def test_canonical_version_is_two() -> None:
    assert CANONICAL_VERSION == 2


@pytest.mark.parametrize(
    ("url", "paper"),
    [
        ("https://arxiv.org/pdf/2303.16058v2.pdf", "2303.16058"),
        ("https://export.arxiv.org/abs/arXiv:2303.16058", "2303.16058"),
        ("https://www.alphaxiv.org/abs/2303.16058v1", "2303.16058"),
        ("https://huggingface.co/papers/2208.07339", "2208.07339"),
        ("https://doi.org/10.48550/arXiv.2208.07339", "2208.07339"),
        ("https://arxiv.org/abs/math.GT/0309136", "math/0309136"),
        ("https://arxiv.org/list/cs.LG/recent", None),
        ("https://huggingface.co/models", None),
        ("https://doi.org/10.1145/1150402.1150464", None),
        ("https://example.com/abs/2303.16058", None),
    ],
)
def test_arxiv_id_names_the_paper_canonical_key_keys(url: str, paper: str | None) -> None:
    assert arxiv_id(url) == paper
    assert canonical_key(url).startswith("arxiv:") == (paper is not None)
    if paper is not None:
        assert canonical_key(url) == f"arxiv:{paper}"


@pytest.mark.parametrize(
    ("url", "repository"),
    [
        ("https://github.com/ggerganov/llama.cpp", ("ggerganov", "llama.cpp")),
        ("https://github.com/ggerganov/llama.cpp.git", ("ggerganov", "llama.cpp")),
        ("https://www.github.com/GGerganov/Llama.CPP/issues/1", ("GGerganov", "Llama.CPP")),
        (
            "https://github.com/ggerganov/llama.cpp/blob/master/README.md",
            ("ggerganov", "llama.cpp"),
        ),
        ("https://github.com/ggerganov", None),
        ("https://github.com/not_an_owner/repo", None),  # GitHub owners have no underscore
        ("https://gitlab.com/ggerganov/llama.cpp", None),
    ],
)
def test_github_repo_names_the_repository_a_link_is_inside(
    url: str, repository: tuple[str, str] | None
) -> None:
    assert github_repo(url) == repository


@pytest.mark.parametrize(
    "url",
    [
        # Once reserved for autofill only: duplicate detection keyed it as a repository.
        "https://github.com/contact/report-content",
        # Once reserved for duplicate detection only: autofill asked GitHub's API about it.
        "https://github.com/solutions/ci-cd",
        "https://github.com/team/pricing",
    ],
)
def test_github_reserved_name_is_no_repository_for_either_side(url: str) -> None:
    assert github_repo(url) is None
    assert canonical_key(url) == url.removeprefix("https://")


@pytest.mark.parametrize("url", ["ftp://ftp.gnu.org/gnu/", "not a url", ""])
def test_arxiv_id_and_github_repo_non_web_link_raise_value_error(url: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        arxiv_id(url)
    with pytest.raises(ValueError, match=r"\S"):
        github_repo(url)


# Generated links: the two functions must agree with each other whatever members paste.
_hosts = st.sampled_from(
    [
        "example.com",
        "www.example.com",
        "Example.COM",
        "arxiv.org",
        "github.com",
        "www.youtube.com",
        "x.com",
        "openreview.net",
        "bücher.de",
        "en.m.wikipedia.org",
    ]
)
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/?#&=\r\n\t"), max_size=8)
_paths = st.lists(_text, max_size=4).map(lambda parts: "/" + "/".join(parts))
_params = st.lists(
    st.tuples(st.sampled_from(["id", "v", "q", "utm_source", "fbclid", "s", "Page"]), _text),
    max_size=4,
).map(lambda pairs: "&".join(f"{name}={value}" for name, value in pairs))
_urls = st.builds(
    lambda scheme, host, port, path, query: f"{scheme}://{host}{port}{path}?{query}",
    st.sampled_from(["http", "https", "HTTPS"]),
    _hosts,
    st.sampled_from(["", ":80", ":443", ":8080"]),
    _paths,
    _params,
)


@settings(database=None, max_examples=300)
@given(url=_urls)
def test_clean_url_keeps_canonical_key_for_any_link(url: str) -> None:
    assert canonical_key(clean_url(url)) == canonical_key(url)


@settings(database=None, max_examples=300)
@given(url=_urls)
def test_clean_url_cleaning_twice_changes_nothing(url: str) -> None:
    assert clean_url(clean_url(url)) == clean_url(url)


@settings(database=None, max_examples=300)
@given(url=_urls, fragment=_text)
def test_canonical_key_tracking_and_fragment_ignored_for_any_link(url: str, fragment: str) -> None:
    # Surrounding whitespace is trimmed from what members paste, so compare links that have none.
    url = url.strip()
    noisy = url.replace("?", "?utm_campaign=issue-42&gclid=Cj0KCQ&", 1) + f"#{fragment}"
    assert canonical_key(noisy) == canonical_key(url)
