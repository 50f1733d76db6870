"""A sign-in through the hospital's OpenID provider (authorization code with PKCE), end to end
over real HTTP: the provider's groups become memberships at two sites with different roles."""

from django.contrib.auth import get_user_model

from portal.core.models import AuditEvent, Membership
from portal.sso.models import ExternalIdentity
from tests.factories import MembershipFactory, UserFactory
from tests.sso.conftest import person, sign_in_through_provider


def memberships(user) -> set[tuple[str, str]]:
    return set(Membership.objects.filter(user=user).values_list("site__code", "role"))


def test_a_sign_in_maps_the_groups_to_two_sites_with_their_roles(client, sso):
    someone = person(
        groups=["portal-north-clinicians", "portal-south-admins", "a-group-the-map-ignores"],
        amr=["pwd", "mfa"],
    )

    answer = sign_in_through_provider(client, sso, someone)

    assert answer.status_code == 302 and answer["Location"] == "/"
    user = ExternalIdentity.objects.get(issuer=sso.issuer, subject=someone.subject).user
    assert memberships(user) == {("northgate", "clinician"), ("southgate", "site_admin")}
    assert user.is_staff and not user.is_superuser and not user.has_usable_password()
    assert set(user.groups.values_list("name", flat=True)) == {"Clinicians", "Site administrators"}
    assert (user.username, user.first_name, user.email) == (
        "a.tester@hospital.example", "Ada", "a.tester@hospital.example",
    )  # fmt: skip
    assert client.get("/patients/").status_code == 200  # a clinician at north
    assert client.get("/admin/").status_code == 200  # a site administrator, second factor given


def test_the_flow_uses_pkce_and_the_provider_checks_the_verifier(client, sso):
    sign_in_through_provider(client, sso, person(groups=["portal-north-clinicians"]))

    (authorize,) = sso.authorize_requests
    (token,) = sso.token_requests
    assert authorize["code_challenge_method"] == "S256" and len(authorize["code_challenge"]) == 43
    assert authorize["nonce"] and authorize["state"]
    assert len(token["code_verifier"]) >= 43  # the provider refuses the code without its match


def test_sign_in_and_its_grants_are_audited_without_personal_data(client, sso):
    sign_in_through_provider(client, sso, person(groups=["portal-north-clinicians"]))

    events = {e.action: e for e in AuditEvent.objects.all()}
    user = get_user_model().objects.get(username="a.tester@hospital.example")
    assert events["sso.signed_in"].actor == user
    assert events["sso.signed_in"].detail == {"protocol": "oidc", "second_factor": "not_required"}
    assert events["sso.memberships_changed"].detail == {
        "protocol": "oidc", "added": ["northgate:clinician"], "removed": [],
    }  # fmt: skip
    assert events["auth.signed_in"].actor == user
    written = " ".join(str(e.detail) for e in AuditEvent.objects.all())
    assert "hospital.example" not in written and "Ada" not in written and "0f1e2d3c" not in written


def test_the_next_page_asked_for_is_where_the_sign_in_lands(client, sso):
    answer = sign_in_through_provider(
        client, sso, person(groups=["portal-north-clinicians"]), next_url="/review/"
    )

    assert answer["Location"] == "/review/"


def test_a_person_without_a_mapped_group_is_refused_and_nothing_is_created(client, sso):
    answer = sign_in_through_provider(client, sso, person(groups=["finance"]))

    assert answer.status_code == 302 and answer["Location"] == "/sso/refused/"
    page = client.get("/sso/refused/")
    assert "no role in this portal" in page.content.decode()
    assert not ExternalIdentity.objects.exists()
    assert not get_user_model().objects.exists()
    refusal = AuditEvent.objects.get(action="sso.refused")
    assert refusal.detail == {"reason": "no_mapped_group", "protocol": "oidc"}
    assert client.get("/").status_code == 302  # not signed in


def test_a_local_account_with_the_providers_username_is_not_taken_over(client, sso, site):
    local = UserFactory(username="a.tester@hospital.example")
    MembershipFactory(user=local, site=site)

    sign_in_through_provider(client, sso, person(groups=["portal-north-clinicians"]))

    user = ExternalIdentity.objects.get().user
    assert user != local and user.username.startswith("a.tester@hospital.example-")
    assert memberships(local) == {(site.code, "clinician")}


def test_an_id_token_made_for_another_client_is_refused(client, sso):
    sso.audience = "another-application"

    answer = sign_in_through_provider(client, sso, person(groups=["portal-north-clinicians"]))

    assert answer["Location"] == "/sso/refused/"
    assert not ExternalIdentity.objects.exists()
    assert AuditEvent.objects.get(action="sso.refused").detail["reason"] == "provider_error"


def test_a_refusal_at_the_provider_is_audited_and_explained(client, sso):
    answer = sign_in_through_provider(client, sso, None)

    assert answer["Location"] == "/sso/refused/"
    assert "cancelled" in client.get("/sso/refused/").content.decode()
    assert AuditEvent.objects.get(action="sso.refused").detail["reason"] == "cancelled"


def test_without_configuration_there_is_no_single_sign_on(client, db):
    assert client.get("/sso/oidc/start/").status_code == 404
    assert "hospital account" not in client.get("/accounts/login/").content.decode()
