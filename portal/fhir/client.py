"""Talking to the hospital's FHIR server (``FHIR_BASE_URL``): the few RESTful interactions the
product uses (conditional create, conditional update, read, search), with its authentication.

Authentication is a bearer token: ``FHIR_TOKEN`` as given, or one obtained with OAuth2 client
credentials from ``FHIR_TOKEN_URL`` (``FHIR_CLIENT_ID``, ``FHIR_CLIENT_SECRET``, optional
``FHIR_SCOPE``), kept until shortly before it expires and fetched again after a 401.

Failures are of two kinds: ``RecordUnavailable`` (the server cannot be reached, times out or
answers 5xx, 408 or 429: worth trying again later) and ``RecordRefused`` (any other 4xx: trying
again sends the same refused request). Neither message carries the request's content.
"""

import threading
import time
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from portal.core.errors import Invalid, Unavailable

FHIR_JSON = "application/fhir+json"
RETRYABLE_STATUSES = {408, 429, 500, 502, 503, 504}


class RecordUnavailable(Unavailable):
    code = "record_unavailable"
    default_message = _("The hospital record cannot be reached right now. Please try again later.")


class RecordRefused(Invalid):
    code = "record_refused"
    default_message = _("The hospital record refused the request.")


def configured() -> bool:
    """Whether a hospital FHIR server is configured (never on the embedded default)."""
    return bool(settings.FHIR_BASE_URL)


class _TokenCache:
    """The client-credentials token of this process, shared by its threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.value = ""
        self.expires = 0.0

    def get(self, session: requests.Session, *, fresh: bool = False) -> str:
        with self.lock:
            if fresh or not self.value or time.monotonic() > self.expires:
                self.value, self.expires = self._fetch(session)
            return self.value

    @staticmethod
    def _fetch(session: requests.Session) -> tuple[str, float]:
        data = {"grant_type": "client_credentials"}
        if settings.FHIR_SCOPE:
            data["scope"] = settings.FHIR_SCOPE
        try:
            answer = session.post(
                settings.FHIR_TOKEN_URL, data=data, timeout=settings.FHIR_TIMEOUT_S,
                auth=(settings.FHIR_CLIENT_ID, settings.FHIR_CLIENT_SECRET),
            )  # fmt: skip
        except requests.RequestException as exc:
            raise RecordUnavailable() from exc
        if answer.status_code >= 500:
            raise RecordUnavailable()
        if answer.status_code != 200 or "access_token" not in answer.json():
            raise RecordRefused(
                _("The hospital's token endpoint refused the product's credentials.")
            )
        body = answer.json()
        # A minute early, so a token never expires on its way.
        return body["access_token"], time.monotonic() + max(
            0, int(body.get("expires_in", 300)) - 60
        )


_tokens = _TokenCache()


class FhirClient:
    """One session with the hospital's FHIR server."""

    def __init__(self, base_url: str | None = None) -> None:
        self.base = (base_url or settings.FHIR_BASE_URL).rstrip("/") + "/"
        self.session = requests.Session()

    def _headers(self, *, fresh_token: bool = False) -> dict:
        headers = {"Accept": FHIR_JSON, "Prefer": "return=representation"}
        if settings.FHIR_TOKEN_URL:
            headers["Authorization"] = f"Bearer {_tokens.get(self.session, fresh=fresh_token)}"
        elif settings.FHIR_TOKEN:
            headers["Authorization"] = f"Bearer {settings.FHIR_TOKEN}"
        return headers

    def _request(self, method: str, path: str, *, json=None, params=None, headers=None):
        url = urljoin(self.base, path)
        for fresh_token in (False, True):
            try:
                answer = self.session.request(
                    method, url, json=json, params=params, timeout=settings.FHIR_TIMEOUT_S,
                    headers={**self._headers(fresh_token=fresh_token), **(headers or {})},
                )  # fmt: skip
            except requests.RequestException as exc:
                raise RecordUnavailable() from exc
            if answer.status_code != 401 or not settings.FHIR_TOKEN_URL:
                break  # a 401 with client credentials: the token may have been revoked, once more
        if answer.status_code in RETRYABLE_STATUSES:
            raise RecordUnavailable()
        if answer.status_code >= 400:
            raise RecordRefused(
                _("The hospital record refused the request (HTTP %(status)s).")
                % {"status": answer.status_code}
            )
        return answer

    @staticmethod
    def _resource(answer, resource_type: str) -> dict:
        """The resource a write answered with, or at least its id from ``Location``."""
        if answer.content:
            body = answer.json()
            if body.get("resourceType") == resource_type:
                return body
        location = answer.headers.get("Location", "") or answer.headers.get("Content-Location", "")
        parts = location.split("/_history/")[0].rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == resource_type:
            return {"resourceType": resource_type, "id": parts[-1]}
        raise RecordRefused(_("The hospital record did not say where it kept the resource."))

    def create_once(self, resource: dict, identifier: str) -> dict:
        """Conditional create (``If-None-Exist: identifier=…``): the stored resource, new or not."""
        kind = resource["resourceType"]
        answer = self._request(
            "POST", kind, json=resource,
            headers={"Content-Type": FHIR_JSON, "If-None-Exist": f"identifier={identifier}"},
        )  # fmt: skip
        return self._resource(answer, kind)

    def put_by_identifier(self, resource: dict, identifier: str) -> dict:
        """Conditional update on the identifier: replaces the one match, or creates it."""
        kind = resource["resourceType"]
        answer = self._request(
            "PUT", kind, json=resource, params={"identifier": identifier},
            headers={"Content-Type": FHIR_JSON},
        )  # fmt: skip
        return self._resource(answer, kind)

    def read(self, resource_type: str, resource_id: str) -> dict:
        return self._request("GET", f"{resource_type}/{resource_id}").json()

    def search(self, resource_type: str, params: dict) -> list[dict]:
        """The resources of the first page of a search (``_count`` bounds it)."""
        bundle = self._request("GET", resource_type, params=params).json()
        return [
            entry["resource"]
            for entry in bundle.get("entry", [])
            if entry.get("resource", {}).get("resourceType") == resource_type
        ]
