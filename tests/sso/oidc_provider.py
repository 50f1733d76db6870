"""A small OpenID provider on loopback, for tests: what Entra ID, Keycloak or Okta do, and no more.

Discovery, JWKS, ``/authorize`` (authorization code, PKCE required: S256), ``/token`` (client
secret by post or basic, the code verifier checked, codes used once), ``/userinfo`` and
``/end_session`` (RP-initiated logout: the ID token hint's signature and the registered
post-logout URI checked). ID tokens are RS256-signed with joserfc (authlib's JOSE). The person who signs
in is the one the test names (``provider.person = Person(...)``): no login form to fill.

Runs in a thread of the test process (a threading WSGI server on 127.0.0.1, port 0), so the
portal under test, in the same process or in a server process, reaches it over real HTTP.
"""

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey


@dataclass
class Person:
    subject: str
    groups: list[str] = field(default_factory=list)
    amr: list[str] = field(default_factory=lambda: ["pwd"])
    acr: str | None = None
    preferred_username: str = "a.tester@hospital.example"
    email: str = "a.tester@hospital.example"
    given_name: str = "Ada"
    family_name: str = "Tester"


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # no access log on the test's output
        pass


class LoopbackProvider:
    def __init__(self, *, client_id: str, client_secret: str, redirect_uris: list[str],
                 post_logout_redirect_uris: list[str]) -> None:  # fmt: skip
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = list(redirect_uris)
        self.post_logout_redirect_uris = list(post_logout_redirect_uris)
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
        self.person: Person | None = None
        self.audience: str | None = None  # the ID token's aud; the client's unless a test says
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.signed_in: set[str] = set()  # subjects with a session at the provider
        self.authorize_requests: list[dict] = []
        self.token_requests: list[dict] = []
        self.ended: list[dict] = []  # what each end_session request carried, verified
        self._server = make_server("127.0.0.1", 0, self._app, server_class=_ThreadingServer,
                                   handler_class=_QuietHandler)  # fmt: skip
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "LoopbackProvider":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def settings(self) -> dict[str, str]:
        """The portal's OIDC_* settings for this provider, as an operator reads them from its
        discovery document."""
        discovery = self._discovery()
        return {
            "OIDC_RP_CLIENT_ID": self.client_id,
            "OIDC_RP_CLIENT_SECRET": self.client_secret,
            "OIDC_OP_ISSUER": discovery["issuer"],
            "OIDC_OP_AUTHORIZATION_ENDPOINT": discovery["authorization_endpoint"],
            "OIDC_OP_TOKEN_ENDPOINT": discovery["token_endpoint"],
            "OIDC_OP_USER_ENDPOINT": discovery["userinfo_endpoint"],
            "OIDC_OP_JWKS_ENDPOINT": discovery["jwks_uri"],
            "OIDC_OP_LOGOUT_ENDPOINT": discovery["end_session_endpoint"],
        }

    # --- the endpoints ----------------------------------------------------------------------
    def _discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "end_session_endpoint": f"{self.issuer}/end_session",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }

    def _app(self, environ, start_response):
        path = environ["PATH_INFO"]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        routes = {
            "/.well-known/openid-configuration": lambda: _json(self._discovery()),
            "/jwks": lambda: _json({"keys": [self.key.as_dict(private=False)]}),
            "/authorize": lambda: self._authorize(query),
            "/token": lambda: self._token(environ),
            "/userinfo": lambda: self._userinfo(environ),
            "/end_session": lambda: self._end_session(query),
        }
        status, headers, body = routes.get(path, lambda: _error(404, "not_found"))()
        start_response(status, headers)
        return [body]

    def _authorize(self, query: dict):
        self.authorize_requests.append(query)
        if query.get("client_id") != self.client_id:
            return _error(400, "invalid_client")
        if query.get("redirect_uri") not in self.redirect_uris:
            return _error(400, "invalid_redirect_uri")  # never redirect to an unknown URI
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            return _redirect(
                query["redirect_uri"], error="invalid_request", state=query.get("state")
            )
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return _redirect(
                query["redirect_uri"], error="invalid_request", state=query.get("state")
            )
        if self.person is None:
            return _redirect(query["redirect_uri"], error="access_denied", state=query.get("state"))
        code = secrets.token_urlsafe(24)
        self.codes[code] = {"query": query, "person": self.person, "at": time.time()}
        self.signed_in.add(self.person.subject)
        return _redirect(query["redirect_uri"], code=code, state=query.get("state"))

    def _token(self, environ):
        form = {k: v[0] for k, v in parse_qs(_body(environ)).items()}
        self.token_requests.append(form)
        client_id, secret = _client_credentials(environ, form)
        if client_id != self.client_id or secret != self.client_secret:
            return _error(401, "invalid_client")
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if form.get("grant_type") != "authorization_code" or grant is None:
            return _error(400, "invalid_grant")
        query = grant["query"]
        if form.get("redirect_uri") != query["redirect_uri"]:
            return _error(400, "invalid_grant")
        if create_s256_code_challenge(form.get("code_verifier", "")) != query["code_challenge"]:
            return _error(400, "invalid_grant")  # PKCE: the verifier must match the challenge
        person = grant["person"]
        access_token = secrets.token_urlsafe(24)
        self.access_tokens[access_token] = {"person": person}
        return _json({
            "access_token": access_token, "token_type": "Bearer", "expires_in": 300,
            "id_token": self.id_token(person, nonce=query.get("nonce")),
        })  # fmt: skip

    def id_token(self, person: Person, *, nonce: str | None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "sub": person.subject, "aud": self.audience or self.client_id,
            "iat": now, "exp": now + 300, "auth_time": now, "amr": person.amr,
            "groups": person.groups, "preferred_username": person.preferred_username,
        }  # fmt: skip
        if nonce:
            claims["nonce"] = nonce
        if person.acr:
            claims["acr"] = person.acr
        header = {"alg": "RS256", "kid": "k1"}
        return jwt.encode(header, claims, self.key)

    def _userinfo(self, environ):
        token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
        grant = self.access_tokens.get(token)
        if grant is None:
            return _error(401, "invalid_token")
        person = grant["person"]
        return _json({
            "sub": person.subject, "email": person.email, "given_name": person.given_name,
            "family_name": person.family_name, "preferred_username": person.preferred_username,
        })  # fmt: skip

    def _end_session(self, query: dict):
        try:
            claims = jwt.decode(query.get("id_token_hint", ""), self.key).claims
        except (JoseError, ValueError):
            return _error(400, "invalid_id_token_hint")
        target = query.get("post_logout_redirect_uri")
        if target not in self.post_logout_redirect_uris or claims["aud"] != self.client_id:
            return _error(400, "invalid_post_logout_redirect_uri")
        self.signed_in.discard(claims["sub"])
        self.ended.append({"subject": claims["sub"], "client_id": query.get("client_id"),
                           "post_logout_redirect_uri": target})  # fmt: skip
        return _redirect(target)


def _json(data: dict, status: str = "200 OK"):
    headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
    return status, headers, json.dumps(data).encode()


def _error(code: int, error: str):
    reason = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}[code]
    return _json({"error": error}, f"{code} {reason}")


def _redirect(target: str, **params):
    params = {k: v for k, v in params.items() if v is not None}
    location = f"{target}?{urlencode(params)}" if params else target
    return "302 Found", [("Location", location)], b""


def _body(environ) -> str:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length).decode()


def _client_credentials(environ, form: dict) -> tuple[str | None, str | None]:
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if authorization.startswith("Basic "):
        client_id, _colon, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")
