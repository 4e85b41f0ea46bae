"""axe-core on the pages people use most: no serious or critical violation.

axe runs in the page through Playwright's `evaluate`, which the page's Content-Security-Policy
does not restrict, so the policy stays on. Every page is checked at desktop and at phone width;
all findings, minor ones included, are written to artifacts/screenshots/axe-<page>.json.
"""

from __future__ import annotations

import json

import pytest
from axe_playwright_python.sync_playwright import Axe

from newsletter.models import Kind, Submission
from newsletter.services.compose import issue_fill
from newsletter.services.issues import issue_create, issue_publish
from newsletter.services.submissions import submission_transition
from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS
from tests.factories import EditorFactory, EventFactory, SubmissionFactory, UserFactory

pytestmark = pytest.mark.browser

BLOCKING = {"serious", "critical"}


def _published_issue():
    editor = EditorFactory()
    for kind, title in [
        (Kind.PAPER, "Quantised attention kernels for small GPUs"),
        (Kind.TOOL, "A profiler that explains memory spikes"),
        (Kind.REPO, "A tiny inference server"),
    ]:
        submission = SubmissionFactory(kind=kind, title=title)
        submission_transition(
            submission=submission, to_state=Submission.State.ACCEPTED, actor=editor
        )
    issue = issue_create(
        title="Kernels and profilers",
        introduction="Hello **readers**: [the last issue](/archive/) was popular.",
        closing="Thanks for reading.",
        actor=editor,
    )
    issue_fill(issue=issue, actor=editor)
    return issue_publish(issue=issue, actor=editor)


def _summary(violations: list[dict]) -> list[dict]:
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [
                {"target": node["target"], "html": node["html"][:200]} for node in v["nodes"]
            ],
        }
        for v in violations
    ]


def check_page(tab, name: str) -> list[str]:
    """axe at both widths; all findings saved, the serious and critical ones returned."""
    axe = Axe()
    found = {}
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        tab.page.set_viewport_size(viewport)
        found[label] = _summary(axe.run(tab.page).response["violations"])
    tab.page.set_viewport_size(DESKTOP)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / f"axe-{name}.json").write_text(json.dumps(found, indent=2))
    return [
        f"{name} ({label}): {v['rule']} ({v['impact']}): {v['help']} at "
        f"{[n['target'] for n in v['nodes']]}"
        for label, violations in found.items()
        for v in violations
        if v["impact"] in BLOCKING
    ]


@pytest.mark.django_db(transaction=True)
def test_accessibility_main_pages_have_no_serious_violation(open_tab):
    issue = _published_issue()
    event = EventFactory(title="Reading group: sparse attention", capacity=10)
    visitor = open_tab("axe")
    member = open_tab("axe", user=UserFactory())
    pages = [
        ("home", visitor, "/"),
        ("signup", visitor, "/accounts/signup/"),
        ("archive", visitor, "/archive/"),
        ("issue", visitor, issue.get_absolute_url()),
        ("submit", member, "/submit/"),
        ("event", member, event.get_absolute_url()),
    ]
    blocking = []
    for name, tab, path in pages:
        tab.go(path)
        blocking += check_page(tab, name)
    assert blocking == [], "\n".join(blocking)
    for tab in (visitor, member):
        assert tab.errors == []
        assert tab.collect_csp() == []


def test_accessibility_checker_finds_what_it_should(chromium):
    """The check must bite: a form field without a label is a critical violation."""
    page = chromium.new_page()
    try:
        page.set_content(
            '<!doctype html><html lang="en"><title>t</title><main><input type="text"></main>'
        )
        violations = Axe().run(page).response["violations"]
    finally:
        page.close()
    assert {(v["id"], v["impact"]) for v in violations} >= {("label", "critical")}
