"""SAML 2.0, the alternative: a sign-in through an identity provider made with pysaml2 on
loopback (signed assertion, checked with xmlsec1), through the same group map as OpenID Connect."""

import base64

import httpx
import pytest
from django.test import Client
from saml2.metadata import create_metadata_string

from portal.core.models import AuditEvent, Membership
from portal.sso import saml_views
from portal.sso.models import ExternalIdentity
from tests.factories import SiteFactory
from tests.sso.conftest import GROUP_MAP
from tests.sso.saml_idp import TWO_FACTOR, LoopbackIdp, SamlPerson, posted_form


@pytest.fixture
def idp(settings, tmp_path, db):
    """The provider trusts the portal's metadata; the portal reads the provider's from its URL."""
    idp = LoopbackIdp(tmp_path)
    settings.SAML_SP_BASE_URL = "http://testserver"
    settings.SAML_IDP_METADATA_URL = ""
    settings.SAML_IDP_METADATA_FILE = ""
    idp.trust(create_metadata_string(None, config=saml_views.sp_config(), valid=1).decode())
    settings.SAML_IDP_METADATA_URL = f"{idp.base}/metadata"
    settings.SSO_GROUP_MAP = GROUP_MAP
    SiteFactory(code="northgate")
    SiteFactory(code="southgate")
    yield idp
    idp.stop()


def sign_in_through_idp(client, idp, person, next_url="/"):
    start = client.get("/sso/saml/login/", {"next": next_url})
    assert start.status_code == 302 and start["Location"].startswith(f"{idp.base}/sso/redirect?")
    idp.person = person
    answer = httpx.get(start["Location"])
    assert answer.status_code == 200, answer.text
    action, fields = posted_form(answer.text)
    assert action == "http://testserver/sso/saml/acs/"
    return client.post(action, fields)


def test_a_saml_sign_in_maps_the_groups_to_two_sites_with_their_roles(client, idp):
    person = SamlPerson(
        subject="saml-0001", groups=["portal-north-clinicians", "portal-south-admins"],
        authn_context=TWO_FACTOR,
    )  # fmt: skip

    answer = sign_in_through_idp(client, idp, person, next_url="/patients/")

    assert answer.status_code == 302 and answer["Location"] == "/patients/"
    link = ExternalIdentity.objects.get(subject="saml-0001")
    assert (link.protocol, link.issuer) == ("saml", f"{idp.base}/metadata")
    assert set(Membership.objects.filter(user=link.user).values_list("site__code", "role")) == {
        ("northgate", "clinician"), ("southgate", "site_admin"),
    }  # fmt: skip
    assert link.user.username == "b.tester"
    assert client.get("/patients/").status_code == 200
    assert client.get("/admin/").status_code == 200  # the two-factor context counted
    assert AuditEvent.objects.get(action="sso.signed_in").detail == {
        "protocol": "saml", "second_factor": "provider",
    }  # fmt: skip


def test_a_saml_group_removed_ends_its_membership(client, idp):
    sign_in_through_idp(client, idp, SamlPerson(subject="s2", groups=["portal-north-clinicians"]))
    user = ExternalIdentity.objects.get().user

    answer = sign_in_through_idp(Client(), idp, SamlPerson(subject="s2", groups=[]))

    assert answer["Location"] == "/sso/refused/"
    assert not Membership.objects.filter(user=user).exists()
    assert client.get("/patients/").status_code == 302


def test_a_tampered_assertion_is_refused(client, idp):
    start = client.get("/sso/saml/login/")
    idp.person = SamlPerson(subject="s3", groups=["portal-north-clinicians"])
    action, fields = posted_form(httpx.get(start["Location"]).text)
    xml = base64.b64decode(fields["SAMLResponse"]).decode()
    fields["SAMLResponse"] = base64.b64encode(xml.replace("s3", "s4").encode()).decode()

    answer = client.post(action, fields)

    assert answer["Location"] == "/sso/refused/"
    assert not ExternalIdentity.objects.exists()
    assert AuditEvent.objects.get(action="sso.refused").detail == {
        "reason": "provider_error", "protocol": "saml",
    }  # fmt: skip
