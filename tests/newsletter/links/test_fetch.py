"""Autofill fetches: real sockets against a local stand-in for arXiv, GitHub and websites.

The SSRF tests matter most: each refused address must be refused *before* any
packet leaves, which `loopback_only` turns into a test failure if it ever does.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import quote

import pytest

from newsletter.links.autofill import Metadata, fetch_metadata
from newsletter.links.canonical import canonical_key
from newsletter.links.fetch import DisallowedURL, FetchFailed, UnusableResponse, safe_get
from tests.stubs.thirdparty import StubResponse, ThirdPartyServer

pytestmark = pytest.mark.usefixtures("loopback_only")


# --- arXiv ---------------------------------------------------------------------------


def test_fetch_metadata_arxiv_abs_link_fills_title_authors_abstract(thirdparty_settings):
    metadata = fetch_metadata("https://arxiv.org/abs/2303.16058")

    assert metadata.source == "arxiv"
    assert metadata.title == "Sparse Mixtures of Experts for Low-Resource Machine Translation"
    assert metadata.summary.startswith("We study sparse mixture-of-experts models for translation")
    assert "\n" not in metadata.summary and "  " not in metadata.summary
    assert metadata.authors == ["Ada Example", "Grace Placeholder", "Alan Sample"]
    assert metadata.url == "https://arxiv.org/abs/2303.16058"
    assert metadata.extra["version"] == 2
    assert metadata.extra["categories"] == ["cs.CL", "cs.LG"]
    assert metadata.extra["comment"] == "12 pages, 4 figures"


@pytest.mark.parametrize(
    "url",
    [
        "https://arxiv.org/pdf/2303.16058",
        "https://arxiv.org/pdf/2303.16058v1.pdf",
        "https://arxiv.org/html/2303.16058v2/",
        "http://export.arxiv.org/abs/2303.16058v2",
        "https://www.arxiv.org/abs/arXiv:2303.16058?context=cs",
        "https://huggingface.co/papers/2303.16058",
    ],
)
def test_fetch_metadata_arxiv_any_link_form_asks_api_for_unversioned_id(thirdparty_settings, url):
    metadata = fetch_metadata(url)

    assert metadata.source == "arxiv"
    assert metadata.extra["arxiv_id"] == "2303.16058"
    assert thirdparty_settings.targets() == ["/arxiv/api/query?id_list=2303.16058&max_results=1"]


def test_fetch_metadata_alphaxiv_link_fills_from_arxiv_api(thirdparty_settings):
    metadata = fetch_metadata("https://www.alphaxiv.org/abs/2303.16058v2")

    assert metadata.source == "arxiv"
    assert metadata.title == "Sparse Mixtures of Experts for Low-Resource Machine Translation"
    assert metadata.url == "https://arxiv.org/abs/2303.16058"
    assert thirdparty_settings.targets() == ["/arxiv/api/query?id_list=2303.16058&max_results=1"]


@pytest.mark.parametrize(
    "url",
    [
        "https://alphaxiv.org/abs/2303.16058",
        "https://huggingface.co/papers/2303.16058",
        "https://doi.org/10.48550/arXiv.2303.16058",
        "https://dx.doi.org/10.48550/ARXIV.2303.16058v2",
        "https://browse.arxiv.org/abs/2303.16058",
        "https://arxiv.org/abs/hep-th/9901001v1",
        "https://doi.org/10.48550/arXiv.hep-th/9901001",
    ],
)
def test_fetch_metadata_every_link_keyed_as_arxiv_paper_autofills_from_arxiv(
    thirdparty_settings, url
):
    metadata = fetch_metadata(url)

    assert metadata.source == "arxiv"
    assert canonical_key(url) == f"arxiv:{metadata.extra['arxiv_id']}"
    assert [r.path for r in thirdparty_settings.requests] == ["/arxiv/api/query"]


def test_fetch_metadata_arxiv_old_style_id_is_found(thirdparty_settings):
    metadata = fetch_metadata("https://arxiv.org/abs/hep-th/9901001v1")

    assert metadata.title == "Notes on Dualities in Toy Field Theories"
    assert metadata.authors == ["Emmy Stand-In"]


def test_fetch_metadata_arxiv_unknown_id_raises_not_found(thirdparty_settings):
    with pytest.raises(FetchFailed, match=r"arXiv has no paper with the id 2399\.99999\."):
        fetch_metadata("https://arxiv.org/abs/2399.99999")


def test_fetch_metadata_arxiv_answer_with_doctype_is_refused(settings, thirdparty_server):
    billion_laughs = (
        b'<?xml version="1.0"?>\n<!DOCTYPE feed [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&lol2;</title></entry></feed>'
    )
    thirdparty_server.add_route(
        r"/evil/api/query",
        lambda request: StubResponse(body=billion_laughs, content_type="application/atom+xml"),
    )
    settings.ARXIV_API_BASE = f"{thirdparty_server.url}/evil/api"
    settings.FETCH_ALLOWED_HOSTS = ["127.0.0.1"]

    with pytest.raises(UnusableResponse, match="document type declaration"):
        fetch_metadata("https://arxiv.org/abs/2303.16058")


# --- GitHub --------------------------------------------------------------------------


def test_fetch_metadata_github_repo_fills_description_stars_licence(thirdparty_settings):
    metadata = fetch_metadata("https://github.com/ggerganov/llama.cpp")

    assert metadata == Metadata(
        title="ggerganov/llama.cpp",
        summary="LLM inference in C/C++",
        authors=["ggerganov"],
        source="github",
        url="https://github.com/ggerganov/llama.cpp",
        extra={
            "stars": 71234,
            "licence": "MIT",
            "language": "C++",
            "forks": 10321,
            "topics": ["ggml", "llama"],
            "archived": False,
            "homepage": None,
            "full_name": "ggerganov/llama.cpp",
        },
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/ggerganov/llama.cpp.git",
        "https://github.com/ggerganov/llama.cpp/tree/master/docs",
        "https://www.github.com/GGerganov/Llama.CPP/issues/1",
    ],
)
def test_fetch_metadata_github_deep_link_uses_repository(thirdparty_settings, url):
    metadata = fetch_metadata(url)

    assert metadata.title == "ggerganov/llama.cpp"
    assert metadata.extra["stars"] == 71234


def test_fetch_metadata_github_link_asks_api_for_the_repository_canonical_knows(
    thirdparty_settings,
):
    url = "https://github.com/GGerganov/llama.cpp"

    metadata = fetch_metadata(url)

    assert canonical_key(url) == f"github:{metadata.extra['full_name']}"
    assert thirdparty_settings.targets() == ["/github/repos/GGerganov/llama.cpp"]


def test_fetch_metadata_github_unknown_repo_raises_not_found(thirdparty_settings):
    with pytest.raises(FetchFailed, match="GitHub has no public repository nobody/nothing."):
        fetch_metadata("https://github.com/nobody/nothing")


def test_fetch_metadata_github_rate_limit_is_temporary(thirdparty_settings):
    thirdparty_settings.github_rate_limited = True

    with pytest.raises(FetchFailed) as excinfo:
        fetch_metadata("https://github.com/ggerganov/llama.cpp")

    assert excinfo.value.temporary is True
    assert excinfo.value.status == 403


def test_fetch_metadata_github_token_is_sent_when_configured(thirdparty_settings, settings):
    settings.GITHUB_API_TOKEN = "test-token"

    fetch_metadata("https://github.com/ggerganov/llama.cpp")

    assert thirdparty_settings.requests[-1].headers["Authorization"] == "Bearer test-token"
    assert thirdparty_settings.requests[-1].headers["X-GitHub-Api-Version"] == "2022-11-28"


# --- Ordinary pages ------------------------------------------------------------------


def test_fetch_metadata_page_reads_opengraph(thirdparty_settings):
    url = thirdparty_settings.url_for("/pages/og.html")

    metadata = fetch_metadata(url)

    assert metadata == Metadata(
        title="Training Tiny Models, & Why",
        summary="A practical guide to training small language models.",
        authors=["Jo Writer"],
        source="page",
        url=url,
        extra={"site_name": "Example Blog"},
    )


def test_fetch_metadata_page_without_meta_falls_back_to_title(thirdparty_settings):
    metadata = fetch_metadata(thirdparty_settings.url_for("/pages/title-only.html"))

    assert metadata.title == "Just a Title"
    assert metadata.summary == ""


def test_fetch_metadata_page_uses_twitter_title_and_meta_description(thirdparty_settings):
    metadata = fetch_metadata(thirdparty_settings.url_for("/pages/twitter.html"))

    assert metadata.title == "Twitter Card Title"
    assert metadata.summary == "Plain meta description."


def test_fetch_metadata_page_decodes_charset_from_header(thirdparty_settings):
    metadata = fetch_metadata(thirdparty_settings.url_for("/pages/latin1.html"))

    assert metadata.title == "Café Zürich: Menü"
    assert metadata.summary == "Spätzle und Rösti"


def test_fetch_metadata_page_decodes_charset_from_meta_tag(thirdparty_settings):
    metadata = fetch_metadata(thirdparty_settings.url_for("/pages/meta-charset.html"))

    assert metadata.title == "“Smart quotes” — naïve café"


def test_fetch_metadata_page_gzip_body_is_decoded(thirdparty_settings):
    metadata = fetch_metadata(thirdparty_settings.url_for("/pages/gzip.html"))

    assert metadata.title == "Compressed Page"


def test_fetch_metadata_page_long_title_and_summary_are_truncated(thirdparty_settings):
    words = " ".join(["word"] * 1000)
    thirdparty_settings.pages["long.html"] = StubResponse(
        body=(
            f"<html><head><title>\n  {words}\n</title>"
            f'<meta name="description" content="{words} {words}"></head></html>'
        ).encode()
    )

    metadata = fetch_metadata(thirdparty_settings.url_for("/pages/long.html"))

    assert len(metadata.title) <= 300
    assert metadata.title.startswith("word word") and metadata.title.endswith("word…")
    assert len(metadata.summary) <= 2000
    assert "  " not in metadata.summary


def test_fetch_metadata_pdf_link_raises_unsupported_content(thirdparty_settings):
    with pytest.raises(UnusableResponse, match="application/pdf"):
        fetch_metadata(thirdparty_settings.url_for("/pages/paper.pdf"))


def test_fetch_metadata_missing_page_raises_not_found(thirdparty_settings):
    with pytest.raises(FetchFailed, match=r"The page was not found \(HTTP 404\)\."):
        fetch_metadata(thirdparty_settings.url_for("/pages/nothing-here.html"))


def test_fetch_metadata_server_error_is_temporary(thirdparty_settings):
    with pytest.raises(FetchFailed) as excinfo:
        fetch_metadata(thirdparty_settings.url_for("/status/503"))

    assert excinfo.value.temporary is True
    assert "HTTP 503" in str(excinfo.value)


def test_metadata_as_dict_is_plain_data(thirdparty_settings):
    metadata = fetch_metadata("https://arxiv.org/abs/2303.16058")

    data = metadata.as_dict()

    assert data["source"] == "arxiv"
    assert data["title"] == metadata.title
    assert data["authors"] == metadata.authors


# --- Redirects -----------------------------------------------------------------------


def test_safe_get_follows_three_redirects(thirdparty_settings):
    result = safe_get(thirdparty_settings.url_for("/redirect/3"))

    assert result.status == 200
    assert result.final_url == thirdparty_settings.url_for("/pages/og.html")
    assert len(result.history) == 3


def test_safe_get_four_redirects_raise_too_many_redirects(thirdparty_settings):
    with pytest.raises(FetchFailed, match="Too many redirects."):
        safe_get(thirdparty_settings.url_for("/redirect/4"))

    assert "/pages/og.html" not in thirdparty_settings.targets()


def test_safe_get_sends_real_host_header_and_user_agent(settings, thirdparty_server):
    # "localhost" resolves to a loopback address that the request is pinned to;
    # the Host header must still name the host the link named.
    settings.FETCH_ALLOWED_HOSTS = ["localhost"]
    settings.FETCH_USER_AGENT = "portal-tests/1.0"

    result = safe_get(f"http://localhost:{thirdparty_server.port}/echo")

    headers = result.json()["headers"]
    assert headers["Host"] == f"localhost:{thirdparty_server.port}"
    assert headers["User-Agent"] == "portal-tests/1.0"


def test_safe_get_cross_origin_redirect_drops_extra_headers(settings, thirdparty_server):
    settings.FETCH_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    target = f"http://localhost:{thirdparty_server.port}/echo"

    result = safe_get(
        thirdparty_server.url_for(f"/redirect-to?url={quote(target, safe='')}"),
        headers={"Authorization": "Bearer secret"},
    )

    assert "Authorization" not in result.json()["headers"]
    assert thirdparty_server.requests[0].headers["Authorization"] == "Bearer secret"


# --- SSRF refusals ---------------------------------------------------------------------


def test_safe_get_loopback_refused_when_not_allowed(settings, thirdparty_server):
    settings.FETCH_ALLOWED_HOSTS = []

    with pytest.raises(DisallowedURL, match="Links to private network addresses are not allowed."):
        safe_get(thirdparty_server.url_for("/pages/og.html"))

    assert thirdparty_server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "http://10.0.0.5/",
        "http://192.168.1.1/admin",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://2130706433/",  # 127.0.0.1 written as one number
        "http://127.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://224.0.0.1/",  # multicast
        "https://localhost:8443/",
    ],
)
def test_safe_get_private_address_refused(settings, url):
    settings.FETCH_ALLOWED_HOSTS = ["127.0.0.1"]  # the allow-list names hosts, not addresses

    with pytest.raises(DisallowedURL, match="Links to private network addresses are not allowed."):
        safe_get(url)


@pytest.mark.parametrize(
    "url",
    [
        # Refused by requests-hardened itself.
        "http://100.127.255.254/",  # carrier-grade NAT, last address
        "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
        "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
        "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
        "http://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
        "http://[::ffff:a00:5]/",  # IPv4-mapped 10.0.0.5
        "http://[::ffff:100.64.0.1]/",  # IPv4-mapped carrier-grade NAT
        # Let through by requests-hardened, refused by our own check.
        "http://[::7f00:1]/",  # IPv4-compatible 127.0.0.1
        "http://[::a9fe:a9fe]/",  # IPv4-compatible 169.254.169.254
        "http://[::ffff:0:7f00:1]/",  # IPv4-translated 127.0.0.1
        "http://[fec0::1]/",  # site-local (deprecated, still routed on old networks)
        "http://[4000::1]/",  # unallocated IPv6
        "http://[100:0:0:1::1]/",  # reserved IPv6 beyond the discard prefix
    ],
)
def test_safe_get_embedded_or_special_address_refused(settings, url):
    settings.FETCH_ALLOWED_HOSTS = ["127.0.0.1"]

    with pytest.raises(DisallowedURL, match="Links to private network addresses are not allowed."):
        safe_get(url)


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://localhost/",
        "http://[::1]:8080/",
    ],
)
def test_safe_get_redirect_to_private_address_refused(thirdparty_settings, target):
    with pytest.raises(DisallowedURL):
        safe_get(thirdparty_settings.url_for(f"/redirect-to?url={quote(target, safe='')}"))


def test_fetch_metadata_redirect_to_private_address_refused(thirdparty_settings):
    target = quote("http://169.254.169.254/latest/meta-data/", safe="")

    with pytest.raises(DisallowedURL):
        fetch_metadata(thirdparty_settings.url_for(f"/redirect-to?url={target}&status=301"))


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_GET%20/",
        "ftp://ftp.example.com/pub/file.txt",
        "javascript:alert(1)",
        "data:text/html,<title>x</title>",
        "dict://127.0.0.1:11211/stat",
        "/relative/path",
    ],
)
def test_safe_get_non_http_scheme_refused(url):
    with pytest.raises(DisallowedURL, match=r"Only http:// and https:// links can be fetched."):
        safe_get(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://example.com/", "ftp://x/"])
def test_fetch_metadata_non_http_scheme_refused(url):
    with pytest.raises(DisallowedURL):
        fetch_metadata(url)


def test_safe_get_redirect_to_file_scheme_refused(thirdparty_settings):
    with pytest.raises(DisallowedURL):
        safe_get(thirdparty_settings.url_for("/redirect-to?url=file:///etc/passwd"))


# --- Size and time limits ----------------------------------------------------------------


def test_safe_get_streamed_body_over_limit_raises_too_large(thirdparty_settings):
    with pytest.raises(FetchFailed, match="The page is larger than 1 MB."):
        safe_get(thirdparty_settings.url_for("/pages/big"))


def test_safe_get_declared_length_over_limit_raises_too_large(thirdparty_settings):
    with pytest.raises(FetchFailed):
        safe_get(thirdparty_settings.url_for("/pages/big?bytes=5000000&declare=1"))


def test_safe_get_body_just_under_limit_is_read(thirdparty_settings):
    result = safe_get(thirdparty_settings.url_for("/pages/big?bytes=999000"))

    assert len(result.content) == 999000


def test_safe_get_gzip_bomb_raises_too_large(thirdparty_settings):
    with pytest.raises(FetchFailed):
        safe_get(thirdparty_settings.url_for("/pages/gzip-bomb"))


def test_safe_get_slow_page_times_out(thirdparty_settings, settings):
    settings.FETCH_TIMEOUT = 1
    started = time.monotonic()

    with pytest.raises(FetchFailed, match="The page took too long to answer."):
        safe_get(thirdparty_settings.url_for("/pages/slow"))

    assert time.monotonic() - started < 2


def test_safe_get_dripping_page_stops_at_deadline(thirdparty_settings, settings):
    # A byte every 0.2 s never trips a per-read timeout; only a deadline stops it.
    settings.FETCH_TIMEOUT = 1
    started = time.monotonic()

    with pytest.raises(FetchFailed):
        safe_get(thirdparty_settings.url_for("/pages/drip?interval=0.2"))

    assert time.monotonic() - started < 2


def test_safe_get_dripping_headers_stop_at_deadline(thirdparty_settings, settings):
    # Headers that never end defeat a per-read timeout as a dripping body does.
    settings.FETCH_TIMEOUT = 1
    started = time.monotonic()

    with pytest.raises(FetchFailed, match="The page took too long to answer.") as excinfo:
        safe_get(thirdparty_settings.url_for("/pages/drip-headers?interval=0.2"))

    assert time.monotonic() - started < 2
    assert excinfo.value.temporary is True


def test_safe_get_ignores_proxy_settings_from_the_environment(thirdparty_settings, monkeypatch):
    # A proxy would connect on our behalf to an address requests-hardened never checked.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{closed_port}")

    result = safe_get(thirdparty_settings.url_for("/pages/og.html"))

    assert result.status == 200


def test_safe_get_closed_port_raises_connection_failed(settings):
    settings.FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once the socket is closed

    with pytest.raises(FetchFailed, match="The site could not be reached."):
        safe_get(f"http://127.0.0.1:{port}/")


def test_thirdparty_server_stops_while_a_handler_sleeps():
    """The stand-in must never hang a test run, even mid-way through /pages/slow."""
    server = ThirdPartyServer().start()
    with socket.create_connection(("127.0.0.1", server.port)) as client:
        client.sendall(b"GET /pages/slow HTTP/1.0\r\n\r\n")
        time.sleep(0.1)
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 1
