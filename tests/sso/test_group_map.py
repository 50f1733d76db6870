"""The group map and the MFA claim, read as docs/integration.md describes them; a map that cannot
be read stops the start (``manage.py check``)."""

import pytest
from django.core import checks

from portal.sso.mapping import (
    BadGroupMap,
    Grant,
    grants_for,
    parse_group_map,
    provider_vouches_for_second_factor,
)


def test_a_group_grants_one_or_several_site_roles(settings):
    settings.SSO_GROUP_MAP = {"a": "north:clinician", "b": ["north:site_admin", "south:clinician"]}

    assert grants_for(["a", "b", "unmapped"]) == {
        Grant("north", "clinician"), Grant("north", "site_admin"), Grant("south", "clinician"),
    }  # fmt: skip
    assert grants_for("a") == {Grant("north", "clinician")}  # a provider sending one group bare
    assert grants_for(None) == set()


@pytest.mark.parametrize(
    "raw",
    [["north:clinician"], {"a": "north"}, {"a": "north:superuser"}, {"a": []}, {"a": ":clinician"}],
)
def test_a_map_that_cannot_be_read_is_refused_with_the_reason(raw, settings):
    with pytest.raises(BadGroupMap):
        parse_group_map(raw)
    settings.SSO_GROUP_MAP = raw
    assert "sso.E001" in {error.id for error in checks.run_checks()}


def test_single_sign_on_half_configured_is_refused(settings):
    settings.OIDC_RP_CLIENT_ID = "portal"
    settings.OIDC_OP_ISSUER = ""

    assert "sso.E002" in {error.id for error in checks.run_checks()}


@pytest.mark.parametrize(
    ("claims", "vouches"),
    [
        ({"amr": ["pwd", "mfa"]}, True),
        ({"amr": ["pwd", "hwk"]}, True),
        ({"amr": "otp"}, True),
        ({"amr": ["pwd"]}, False),
        ({}, False),
        ({"amr": ["pwd"], "acr": "urn:hospital:mfa"}, True),
        ({"acrs": ["c1"]}, True),
        ({"acr": "1"}, False),
    ],
)
def test_what_counts_as_the_providers_second_factor(claims, vouches, settings):
    settings.OIDC_MFA_ACR_VALUES = ["urn:hospital:mfa", "c1"]

    assert provider_vouches_for_second_factor(claims) is vouches
