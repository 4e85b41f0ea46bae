"""Endorsements: one +1 per member per submission, never on one's own, only while it is coming."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from newsletter.models import Activity, Endorsement, Submission
from newsletter.models.endorsements import REASON_MAX_LENGTH
from newsletter.services.endorsements import endorsement_create, endorsement_refusal
from tests.factories import SubmissionFactory

State = Submission.State


@pytest.mark.django_db
def test_endorsement_is_stored_with_its_reason_on_one_line_and_logged(other_member):
    submission = SubmissionFactory()
    endorsement = endorsement_create(
        submission=submission, member=other_member, reason="  Fixed our\nint4 kernels "
    )
    assert (endorsement.submission, endorsement.member) == (submission, other_member)
    assert endorsement.reason == "Fixed our int4 kernels"
    entry = submission.activity.get(action=Activity.Action.ENDORSED)
    assert (entry.actor, entry.detail) == (other_member, "Fixed our int4 kernels")


@pytest.mark.django_db
def test_endorsing_your_own_submission_is_refused(member):
    submission = SubmissionFactory(author=member)
    with pytest.raises(PermissionDenied, match="your own submission"):
        endorsement_create(submission=submission, member=member)
    assert not Endorsement.objects.exists()
    assert endorsement_refusal(submission=submission, member=member).startswith("This is your own")


@pytest.mark.django_db
def test_one_endorsement_per_member_per_submission(other_member):
    submission = SubmissionFactory()
    endorsement_create(submission=submission, member=other_member, reason="first")
    with pytest.raises(ValidationError, match="already said"):
        endorsement_create(submission=submission, member=other_member, reason="second")
    assert list(Endorsement.objects.values_list("reason", flat=True)) == ["first"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "message"),
    [
        (State.PUBLISHED, "already published"),
        (State.REJECTED, "no longer waiting"),
        (State.WITHDRAWN, "no longer waiting"),
    ],
)
def test_endorsing_a_decided_submission_is_refused(other_member, state, message):
    extra = {"reject_reason": "other"} if state == State.REJECTED else {}
    submission = SubmissionFactory(state=state, **extra)
    with pytest.raises(ValidationError, match=message):
        endorsement_create(submission=submission, member=other_member)
    assert not Endorsement.objects.exists()


@pytest.mark.django_db
def test_endorsing_an_accepted_submission_is_welcome(other_member):
    submission = SubmissionFactory(state=State.ACCEPTED)
    endorsement_create(submission=submission, member=other_member)
    assert submission.endorsements.count() == 1


@pytest.mark.django_db
def test_a_too_long_reason_is_refused_and_nothing_stored(other_member):
    submission = SubmissionFactory()
    with pytest.raises(ValidationError, match=f"at most {REASON_MAX_LENGTH} characters"):
        endorsement_create(
            submission=submission, member=other_member, reason="x" * (REASON_MAX_LENGTH + 1)
        )
    assert not Endorsement.objects.exists()
    assert not submission.activity.filter(action=Activity.Action.ENDORSED).exists()
