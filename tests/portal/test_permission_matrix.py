"""Every route of the project, for every role: allowed or denied, as the permission model says.

The routes come from the URL resolver (and the WebSocket router), not from a hand-kept list, and
every route must have an entry in ``RULES``: a new view that nobody classified fails here, and a
view that forgets ``portal.core.permissions`` fails when the other site's clinician gets a 200 for this
site's objects, or a researcher gets clinical data.
"""

import re
from datetime import timedelta

import pytest
from channels.testing.websocket import WebsocketCommunicator
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from portal.asgi import application
from portal.core.models import Role
from portal.routing import websocket_urlpatterns
from tests.factories import MembershipFactory, PatientFactory, UserFactory, verified_login
from tests.factories_clinical import RecordingFactory, succeeded

ROLES = ["anonymous", "clinician", "other_clinician", "researcher", "site_admin", "superuser"]

# What each role may do, per kind of route. "allow": any answer but a denial; "login": a redirect
# to a sign-in page; "401"/"403"/"404": that denial; "any": not asserted beyond "no server error".
KINDS = {
    "public": dict.fromkeys(ROLES, "allow"),
    "page": {"anonymous": "login", "clinician": "allow", "other_clinician": "allow",
             "researcher": "403", "site_admin": "allow", "superuser": "allow"},
    "page_object": {"anonymous": "login", "clinician": "allow", "other_clinician": "404",
                    "researcher": "403", "site_admin": "allow", "superuser": "allow"},
    "signed_in": {"anonymous": "login", "clinician": "allow", "other_clinician": "allow",
                  "researcher": "allow", "site_admin": "allow", "superuser": "allow"},
    "staff": {"anonymous": "login", "clinician": "403", "other_clinician": "403",
              "researcher": "403", "site_admin": "allow", "superuser": "allow"},
    "api": {"anonymous": "401", "clinician": "allow", "other_clinician": "allow",
            "researcher": "403", "site_admin": "allow", "superuser": "allow"},
    "api_object": {"anonymous": "401", "clinician": "allow", "other_clinician": "404",
                   "researcher": "403", "site_admin": "allow", "superuser": "allow"},
    "api_any_role": {"anonymous": "401", "clinician": "allow", "other_clinician": "allow",
                     "researcher": "allow", "site_admin": "allow", "superuser": "allow"},
    "research": {"anonymous": "401", "clinician": "403", "other_clinician": "403",
                 "researcher": "allow", "site_admin": "403", "superuser": "any"},
    "research_object": {"anonymous": "401", "clinician": "403", "other_clinician": "403",
                        "researcher": "404", "site_admin": "403", "superuser": "any"},
    "signed_link": dict.fromkeys(ROLES, "any"),
    # Only the browser in the middle of a provider's sign-in gets further; others go to sign in.
    "pending_sign_in": dict.fromkeys(ROLES, "login"),
    "not_found": dict.fromkeys(ROLES, "404"),
    "page_without_record": {"anonymous": "login", "clinician": "404", "other_clinician": "404",
                            "researcher": "403", "site_admin": "404", "superuser": "404"},
    # The matrix's result is not reviewed: no review Observation for anyone, and no leak either.
    "api_object_unreviewed": {"anonymous": "401", "clinician": "404", "other_clinician": "404",
                              "researcher": "403", "site_admin": "404", "superuser": "404"},
    "admin": {"anonymous": "admin_login", "clinician": "admin_login",
              "other_clinician": "admin_login", "researcher": "admin_login",
              "site_admin": "any", "superuser": "any"},
}  # fmt: skip

# Route (as the resolver spells it) -> kind. Every route of the project must be here.
RULES = {
    "": "signed_in",  # a researcher's start page is their exports
    "patients/": "page",
    "patients/new/": "page",
    "patients/<int:pk>/": "page_object",
    "patients/<int:pk>/edit/": "page_object",
    "diagnostics/<int:pk>/": "page_object",
    "diagnostics/<int:pk>/card/": "page_object",
    "diagnostics/<int:pk>/review/": "page_object",
    "diagnostics/<int:pk>/retry/": "page_object",
    "diagnostics/<int:pk>/similar/<int:other_id>/feedback/": "page_object",
    "review/": "page",
    "sites/switch/": "page",
    "accounts/login/": "public",
    "accounts/logout/": "public",
    "accounts/password_change/": "signed_in",
    "accounts/password_change/done/": "signed_in",
    "accounts/session/": "signed_in",
    "accounts/enrol/<str:secret>/": "signed_link",  # a one-time link: an unknown one is 404
    "i18n/setlang/": "public",
    "jsi18n/": "public",
    "api/v1/auth/token/": "public",
    "api/v1/auth/token/refresh/": "public",
    "api/v1/auth/token/revoke/": "api_any_role",
    "api/v1/recordings/": "api",
    "api/v1/uploads/": "api",
    "api/v1/uploads/<int:pk>/content": "api_object",
    "api/v1/uploads/<int:pk>/complete/": "api_object",
    "api/v1/patients/": "api",
    "api/v1/patients/lookup/": "api",
    "api/v1/patients/<int:pk>/": "api_object",
    "api/v1/patients/<int:pk>/pending/": "api_object",
    "api/v1/diagnostics/": "api",
    "api/v1/diagnostics/<int:pk>/": "api_object",
    "api/v1/diagnostics/<int:pk>/retry/": "api_object",
    "api/v1/diagnostics/<int:pk>/review/": "api_object",
    "api/v1/diagnostics/<int:pk>/similar/": "api_object",
    "api/v1/diagnostics/<int:pk>/similar/<int:other_id>/feedback/": "api_object",
    "api/v1/models/": "api_any_role",  # model versions hold no patient data
    "api/v1/research/diagnostics/": "research",
    "api/v1/research/recordings/<str:pseudonym>/audio": "research_object",
    "api/v1/research/audio/<str:token>": "signed_link",
    "api/schema/": "public",
    "api/docs/": "public",
    "media/recordings/<int:pk>/audio": "page_object",
    "media/recordings/<int:pk>/spectrogram.png": "page_object",
    "patients/new/from-record/": "page_without_record",  # no FHIR server in this test
    # Single sign-on: each protocol's routes answer 404 until it is configured (as here).
    "sso/oidc/start/": "not_found",
    "sso/oidc/callback/": "not_found",
    "sso/saml/login/": "not_found",
    "sso/saml/acs/": "not_found",
    "sso/saml/metadata/": "not_found",
    "sso/second-factor/": "pending_sign_in",
    "sso/refused/": "public",
    "sso/signed-out/": "public",
    "fhir/R4/metadata": "public",
    "fhir/R4/Patient": "api",
    "fhir/R4/Patient/<int:pk>": "api_object",
    "fhir/R4/DiagnosticReport": "api",
    "fhir/R4/DiagnosticReport/<int:pk>": "api_object",
    "fhir/R4/Observation": "api",
    "fhir/R4/Observation/<int:pk>-finding": "api_object",
    "fhir/R4/Observation/<int:pk>-review": "api_object_unreviewed",
    "fhir/R4/<str:resource_type>": "not_found",  # any other type: an OperationOutcome
    "fhir/R4/<str:resource_type>/<str:resource_id>": "not_found",
    "healthz": "public",
    "readyz": "public",
    "metrics": "public",
}
WEBSOCKET_RULES = {
    "ws/diagnostics/<int:pk>/": {"anonymous": 4403, "clinician": None, "other_clinician": 4404,
                                 "researcher": 4404, "site_admin": None, "superuser": None},
    "ws/patients/<int:pk>/": {"anonymous": 4403, "clinician": None, "other_clinician": 4404,
                              "researcher": 4404, "site_admin": None, "superuser": None},
}  # fmt: skip


def project_routes():
    """Every non-admin route, from the resolver; the admin counts as one route."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if route.startswith("admin/"):
                    yield "admin/", pattern
                    continue
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                yield route, pattern

    return sorted(dict(walk(get_resolver().url_patterns)))


@pytest.fixture
def world(db, site, other_site):
    patient = PatientFactory(site=site)
    diagnostic = succeeded(recording__patient=patient)
    other = succeeded(recording__patient=PatientFactory(site=site))
    pending = RecordingFactory(patient=patient, status="pending", sha256="", size_bytes=10)
    users = {
        "clinician": UserFactory(username="m-clinician"),
        "other_clinician": UserFactory(username="m-other"),
        "researcher": UserFactory(username="m-researcher"),
        "site_admin": UserFactory(username="m-siteadmin", is_staff=True),
        "superuser": UserFactory(username="m-root", is_staff=True, is_superuser=True),
    }
    MembershipFactory(user=users["clinician"], site=site, role=Role.CLINICIAN)
    MembershipFactory(user=users["other_clinician"], site=other_site, role=Role.CLINICIAN)
    MembershipFactory(
        user=users["researcher"], site=site, role=Role.RESEARCHER,
        data_use_agreement_until=timezone.localdate() + timedelta(days=30),
    )  # fmt: skip
    MembershipFactory(user=users["site_admin"], site=site, role=Role.SITE_ADMIN)
    default_storage.save(diagnostic.recording.storage_key, ContentFile(b"RIFF audio bytes"))
    picture = default_storage.save("spectrograms/matrix.png", ContentFile(b"\x89PNG picture"))
    type(diagnostic.recording).objects.filter(pk=diagnostic.recording_id).update(
        spectrogram_key=picture
    )
    ids = {
        "patients/": patient.pk, "diagnostics/": diagnostic.pk, "uploads/": pending.pk,
        "recordings/": diagnostic.recording_id, "other_id": other.pk,
    }  # fmt: skip
    return users, ids


FHIR_TYPES = {"Patient/": "patients/", "DiagnosticReport/": "diagnostics/",
              "Observation/": "diagnostics/"}  # fmt: skip


def concrete(route: str, ids: dict) -> str:
    def value(match):
        name = match.group(2)
        if name == "other_id":
            return str(ids["other_id"])
        if match.group(1) == "str":
            return "not-a-real-pseudonym"
        prefix = route[: match.start()]
        key = next(
            k
            for k in ("uploads/", "recordings/", "diagnostics/", "patients/")
            if prefix.endswith(k) or FHIR_TYPES.get(prefix.rsplit("/R4/", 1)[-1]) == k
        )
        return str(ids[key])

    return "/" + re.sub(r"<(\w+):(\w+)>", value, route)


def outcome(response) -> str:
    status = response.status_code
    location = response.get("Location", "")
    if status >= 500:
        return "server_error"
    if status in (301, 302) and "/admin/login/" in location:
        return "admin_login"
    if status in (301, 302) and "login" in location:
        return "login"
    if status in (401, 403, 404):
        return str(status)
    return "allow"


def request_as(client, url: str):
    """GET, or the first method the route answers (signing out would end the sweep)."""
    response = client.get(url)
    for method in ("post", "put"):
        if response.status_code != 405 or url == "/accounts/logout/":
            break
        response = getattr(client, method)(url, {} if method == "post" else b"")
    return response


def test_every_route_is_classified():
    unclassified = [route for route in project_routes() if route not in RULES and route != "admin/"]
    assert unclassified == [], "classify these routes in RULES: " + ", ".join(unclassified)


@pytest.mark.parametrize("role", ROLES)
def test_every_route_allows_or_denies_each_role_as_the_rules_say(client, world, role):
    users, ids = world
    if role == "superuser" or role == "site_admin":
        verified_login(client, users[role])
    elif role != "anonymous":
        client.force_login(users[role])
    client.raise_request_exception = False
    mismatches = []
    for route in project_routes():
        if route == "admin/":
            url, kind = "/admin/portal/patient/", "admin"
        else:
            url, kind = concrete(route, ids), RULES[route]
        expected = KINDS[kind][role]
        got = outcome(request_as(client, url))
        # A 401 and a 403 both deny an anonymous API caller; DRF picks by authenticator.
        equivalent = expected == "401" and got == "403" and role == "anonymous"
        wrong = expected != "any" and got != expected and not equivalent
        if got == "server_error" or wrong:
            mismatches.append(f"{url} ({kind}): expected {expected}, got {got}")
    assert mismatches == [], "\n".join(mismatches)


def test_every_api_route_in_the_openapi_schema_is_in_the_matrix(client, db):
    schema = client.get("/api/schema/", headers={"Accept": "application/json"})
    paths = schema.json()["paths"] if schema["Content-Type"].startswith("application/json") else {}
    if not paths:
        import yaml

        paths = yaml.safe_load(schema.content)["paths"]
    # drf-spectacular names a "pk" parameter "id".
    covered = {
        re.sub(r"<\w+:(\w+)>", r"{\1}", "/" + route).replace("{pk}", "{id}") for route in RULES
    }
    assert sorted(set(paths) - covered) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", sorted(WEBSOCKET_RULES))
def test_every_websocket_route_admits_only_the_patients_site(route, site, other_site):
    from asgiref.sync import async_to_sync

    patient = PatientFactory(site=site)
    diagnostic = succeeded(recording__patient=patient)
    users = {
        "anonymous": None,
        "clinician": UserFactory(username="w-clinician"),
        "other_clinician": UserFactory(username="w-other"),
        "researcher": UserFactory(username="w-researcher"),
        "site_admin": UserFactory(username="w-siteadmin", is_staff=True),
        "superuser": UserFactory(username="w-root", is_superuser=True),
    }
    MembershipFactory(user=users["clinician"], site=site, role=Role.CLINICIAN)
    MembershipFactory(user=users["other_clinician"], site=other_site, role=Role.CLINICIAN)
    MembershipFactory(user=users["researcher"], site=site, role=Role.RESEARCHER)
    MembershipFactory(user=users["site_admin"], site=site, role=Role.SITE_ADMIN)
    pk = diagnostic.pk if route.startswith("ws/diagnostics") else patient.pk
    path = "/" + route.replace("<int:pk>", str(pk))

    def cookie_of(role, user):
        """The session cookie a browser signed in as ``user`` sends (verified where needed)."""
        if user is None:
            return None
        browser = Client()
        (verified_login if role in ("site_admin", "superuser") else Client.force_login)(
            browser, user
        )
        return (
            f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
        )

    async def connect(cookie):
        headers = [(b"origin", b"http://127.0.0.1")]
        if cookie:
            headers.append((b"cookie", cookie.encode()))
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, code = await communicator.connect(timeout=10)
        await communicator.disconnect()
        return None if connected else code

    cookies = {role: cookie_of(role, user) for role, user in users.items()}
    results = {role: async_to_sync(connect)(cookie) for role, cookie in cookies.items()}

    assert results == WEBSOCKET_RULES[route]


def test_every_websocket_route_is_classified():
    routes = {str(pattern.pattern) for pattern in websocket_urlpatterns}
    assert routes == set(WEBSOCKET_RULES)
