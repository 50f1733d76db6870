"""A small FHIR server on loopback, the hospital's record for the tests: standard library only
(``http.server`` in a thread), resources kept in memory.

It does what the product asks of a real server: create (``POST [type]``), conditional create
(``If-None-Exist``: 200 with the match, 412 for several), update (``PUT [type]/[id]``),
conditional update (``PUT [type]?identifier=…``: the one match replaced, a new one created when
none), read, and search by ``identifier`` (``system|value``), ``name``, ``family``, ``given``
(prefix, any case) and ``patient`` / ``subject``, answered as a ``searchset`` Bundle. A test can
stop it (the port then refuses connections) and start it again on the same port, with what it
kept. With ``token`` set it wants ``Authorization: Bearer <token>``; ``POST /token`` hands that
token out for client credentials ``client_id``/``client_secret``.
"""

import base64
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FHIR_JSON = "application/fhir+json"


class LoopbackFhirServer:
    def __init__(self, *, token: str = "", client: tuple[str, str] | None = None) -> None:
        self.resources: dict[str, dict[str, dict]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.token = token
        self.client = client
        self.port = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def start(self) -> "LoopbackFhirServer":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def all(self, resource_type: str) -> list[dict]:
        return list(self.resources.get(resource_type, {}).values())

    def add(self, resource: dict) -> dict:
        """Store a resource as the hospital made it (a test's patients), with a new id."""
        with self._lock:
            return self._store({**resource, "id": str(next(self._ids))}, version=1)

    def _store(self, resource: dict, *, version: int) -> dict:
        resource["meta"] = {"versionId": str(version)}
        self.resources.setdefault(resource["resourceType"], {})[resource["id"]] = resource
        return resource

    def search(self, resource_type: str, params: dict[str, str]) -> list[dict]:
        return [r for r in self.all(resource_type) if all(
            _matches(r, name, value) for name, value in params.items() if not name.startswith("_")
        )]  # fmt: skip


def _identifiers(resource: dict) -> set[str]:
    return {f"{i.get('system', '')}|{i.get('value', '')}" for i in resource.get("identifier", [])}


def _names(resource: dict, part: str) -> list[str]:
    words = []
    for name in resource.get("name", []):
        if part in ("name", "family"):
            words.append(name.get("family", ""))
        if part in ("name", "given"):
            words.extend(name.get("given", []))
    return [w.casefold() for w in words]


def _matches(resource: dict, name: str, value: str) -> bool:
    if name == "identifier":
        return value in _identifiers(resource) or (
            "|" not in value and any(i.endswith(f"|{value}") for i in _identifiers(resource))
        )
    if name in ("name", "family", "given"):
        return any(word.startswith(value.casefold()) for word in _names(resource, name))
    if name in ("patient", "subject"):
        return (resource.get("subject") or {}).get("reference") == value or (
            resource.get("subject") or {}
        ).get("reference", "").endswith(f"/{value}")
    return False


def _handler(server: LoopbackFhirServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: tests read server.requests instead
            pass

        def _answer(self, status: int, body: dict | None = None, headers: dict | None = None):
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", FHIR_JSON)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _outcome(self, status: int, text: str):
            self._answer(status, {"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "processing", "diagnostics": text}]})  # fmt: skip

        def _body(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def _route(self):
            parts = urlsplit(self.path)
            path = parts.path.removeprefix("/fhir").strip("/").split("/")
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            return path, params

        def _authorised(self) -> bool:
            if not server.token:
                return True
            if self.headers.get("Authorization") == f"Bearer {server.token}":
                return True
            self._outcome(401, "a bearer token is needed")
            return False

        def do_GET(self):
            server.requests.append(("GET", self.path))
            if not self._authorised():
                return
            (kind, *rest), params = self._route()
            if rest:
                found = server.resources.get(kind, {}).get(rest[0])
                return self._answer(200, found) if found else self._outcome(404, "not found")
            matches = server.search(kind, params)
            self._answer(200, {
                "resourceType": "Bundle", "type": "searchset", "total": len(matches),
                "entry": [{"fullUrl": f"{server.url}/{kind}/{r['id']}", "resource": r,
                           "search": {"mode": "match"}} for r in matches],
            })  # fmt: skip

        def do_POST(self):
            server.requests.append(("POST", self.path))
            (kind, *_), _params = self._route()
            if kind == "token":
                return self._token()
            if not self._authorised():
                return
            resource = self._body()
            with server._lock:
                condition = self.headers.get("If-None-Exist")
                if condition:
                    criteria = {k: v[0] for k, v in parse_qs(condition).items()}
                    matches = server.search(kind, criteria)
                    if len(matches) > 1:
                        return self._outcome(412, "several resources match")
                    if matches:
                        return self._answer(200, matches[0])
                stored = server._store({**resource, "id": str(next(server._ids))}, version=1)
            self._answer(
                201, stored, {"Location": f"{server.url}/{kind}/{stored['id']}/_history/1"}
            )

        def do_PUT(self):
            server.requests.append(("PUT", self.path))
            if not self._authorised():
                return
            (kind, *rest), params = self._route()
            resource = self._body()
            with server._lock:
                if rest:
                    existing = server.resources.get(kind, {}).get(rest[0])
                    resource_id = rest[0]
                else:
                    matches = server.search(kind, params)
                    if len(matches) > 1:
                        return self._outcome(412, "several resources match")
                    existing = matches[0] if matches else None
                    resource_id = existing["id"] if existing else str(next(server._ids))
                version = int(existing["meta"]["versionId"]) + 1 if existing else 1
                stored = server._store({**resource, "id": resource_id}, version=version)
            self._answer(200 if existing else 201, stored)

        def _token(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            basic = self.headers.get("Authorization", "").removeprefix("Basic ")
            credentials = tuple(base64.b64decode(basic).decode().split(":", 1)) if basic else ()
            if form.get("grant_type") != "client_credentials" or credentials != server.client:
                return self._answer(401, {"error": "invalid_client"})
            self._answer(200, {"access_token": server.token, "token_type": "Bearer",
                               "expires_in": 3600})  # fmt: skip

    return Handler
