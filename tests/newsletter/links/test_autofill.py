"""Title and summary autofill after submission, against the local arXiv/GitHub stand-in."""

import pytest
from django.urls import reverse

from newsletter.models import Activity, Submission
from newsletter.services.submissions import submission_create
from newsletter.tasks.submissions import fetch_submission_metadata
from portal.celery import app
from tests.factories import UserFactory
from tests.workers import WorkerProcess, wait_until


@pytest.mark.django_db
def test_empty_title_and_summary_are_filled_from_arxiv(
    thirdparty_settings, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submission = submission_create(
            author=member, url="https://arxiv.org/pdf/2303.16058v1.pdf", kind="paper"
        )
    submission.refresh_from_db()
    assert submission.title == "Sparse Mixtures of Experts for Low-Resource Machine Translation"
    assert submission.summary.startswith("We study sparse mixture-of-experts models")
    assert submission.summary_html.startswith("<p>We study")
    assert submission.metadata["authors"] == ["Ada Example", "Grace Placeholder", "Alan Sample"]
    assert Activity.objects.filter(submission=submission, action="metadata").exists()


@pytest.mark.django_db
def test_member_text_is_never_overwritten_by_autofill(
    thirdparty_settings, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submission = submission_create(
            author=member,
            url="https://github.com/ggerganov/llama.cpp",
            kind="repo",
            title="llama.cpp",
            summary="",
        )
    submission.refresh_from_db()
    assert submission.title == "llama.cpp"
    assert submission.summary == "LLM inference in C/C++"
    assert submission.metadata["extra"]["licence"] == "MIT"


@pytest.mark.django_db
def test_failed_autofill_is_recorded_for_the_member(
    thirdparty_settings, member_client, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submission = submission_create(
            author=member, url=f"{thirdparty_settings.url}/missing-page", kind="blog"
        )
    submission.refresh_from_db()
    assert submission.title == ""
    assert submission.metadata_error
    page = member_client.get(submission.get_absolute_url()).content.decode()
    assert "We could not fetch a title" in page


@pytest.mark.django_db
def test_autofill_task_with_missing_submission_returns_quietly():
    fetch_submission_metadata(submission_id=987654)


@pytest.mark.django_db
def test_fetch_details_button_fills_the_form_without_javascript(thirdparty_settings, member_client):
    response = member_client.post(
        reverse("portal:submission-create"),
        {
            "fetch": "1",
            "url": "https://arxiv.org/abs/2303.16058",
            "kind": "paper",
            "links-TOTAL_FORMS": "3",
            "links-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert Submission.objects.count() == 0
    form = response.context["form"]
    assert (
        form.initial["title"] == "Sparse Mixtures of Experts for Low-Resource Machine Translation"
    )


@pytest.mark.django_db
def test_fetch_details_json_endpoint(thirdparty_settings, member_client):
    url = reverse("portal:submission-fetch")
    answer = member_client.post(url, {"url": "https://github.com/ggerganov/llama.cpp"}).json()
    assert answer == {
        "ok": True,
        "title": "ggerganov/llama.cpp",
        "summary": "LLM inference in C/C++",
        "source": "github",
    }
    refused = member_client.post(url, {"url": "http://169.254.169.254/latest/meta-data/"}).json()
    assert refused["ok"] is False
    assert "private network" in refused["message"]
    assert member_client.get(url).status_code == 405


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_autofill_runs_in_a_real_celery_worker(thirdparty_server):
    worker = WorkerProcess(
        extra_env={
            "ARXIV_API_BASE": f"{thirdparty_server.url}/arxiv/api",
            "GITHUB_API_BASE": f"{thirdparty_server.url}/github",
            "FETCH_ALLOWED_HOSTS": "127.0.0.1",
        }
    )
    app.conf.task_always_eager = False
    worker.start()
    try:
        member = UserFactory()
        submission = submission_create(
            author=member, url="https://arxiv.org/abs/2303.16058", kind="paper"
        )
        filled = wait_until(
            lambda: Submission.objects.filter(pk=submission.pk).exclude(title="").first(),
            timeout=30,
            message="the worker did not fill the title",
        )
        assert filled.title == "Sparse Mixtures of Experts for Low-Resource Machine Translation"
        assert [r.path for r in thirdparty_server.requests] == ["/arxiv/api/query"]
    finally:
        worker.stop()
        app.conf.task_always_eager = True
