"""The interaction services: feedback is validated and audited; a view is recorded once per few
minutes, and a source the user may not see is dropped rather than stored."""

import pytest

from portal.core.models import AuditEvent
from recommender import services
from recommender.models import Interaction, InteractionKind
from tests.factories import PatientFactory
from tests.recommender.cases import axis_vector, case

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(site, version):
    return (
        case(patient=PatientFactory(site=site), vector=axis_vector(), version=version),
        case(patient=PatientFactory(site=site), vector=axis_vector(1), version=version,
             review_label="healthy"),
    )  # fmt: skip


def test_feedback_is_recorded_with_its_source_and_audited_without_personal_values(pair, clinician):
    query, other = pair

    interaction = services.record_feedback(
        actor=clinician, diagnostic=query, other=other, kind=InteractionKind.MARKED_SIMILAR
    )

    assert (interaction.user, interaction.diagnostic, interaction.source) == (
        clinician, other, query,
    )  # fmt: skip
    event = AuditEvent.objects.get(action="similar_case.feedback")
    assert event.actor == clinician and event.object_id == str(other.pk)
    assert event.patient == other.patient and event.site == other.patient.site
    assert event.detail == {"kind": "marked_similar", "source_diagnostic": query.pk}


@pytest.mark.parametrize("kind", ["viewed", "liked", ""])
def test_feedback_of_another_kind_is_refused(pair, clinician, kind):
    query, other = pair
    with pytest.raises(services.FeedbackRefused):
        services.record_feedback(actor=clinician, diagnostic=query, other=other, kind=kind)
    assert not Interaction.objects.exists()


def test_a_case_is_not_compared_with_itself(pair, clinician):
    query, _ = pair
    with pytest.raises(services.FeedbackRefused):
        services.record_feedback(
            actor=clinician, diagnostic=query, other=query, kind=InteractionKind.DISMISSED
        )


def test_a_view_is_recorded_once_per_few_minutes(pair, clinician):
    query, other = pair

    first = services.record_view(user=clinician, diagnostic=other, source=query)
    repeat = services.record_view(user=clinician, diagnostic=other, source=query)

    assert first is not None and first.kind == InteractionKind.VIEWED and first.source == query
    assert repeat is None
    assert Interaction.objects.count() == 1


def test_a_source_the_user_may_not_see_is_dropped(pair, clinician, other_site, version):
    _, other = pair
    foreign = case(patient=PatientFactory(site=other_site), vector=axis_vector(), version=version)

    interaction = services.record_view(user=clinician, diagnostic=other, source=foreign)

    assert interaction.source is None
