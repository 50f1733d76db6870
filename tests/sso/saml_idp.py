"""A SAML 2.0 identity provider on loopback, made with pysaml2, for tests.

It serves its metadata (``/metadata``) and single sign-on over the HTTP-Redirect binding
(``/sso/redirect``): it parses the portal's authentication request, and answers for the person
the test names with a signed assertion (xmlsec1, a key and certificate made here), over the
HTTP-POST binding: the HTML form a browser would post to the portal's assertion consumer.
"""

import datetime
import html
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server

PASSWORD_ONLY = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
TWO_FACTOR = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract"


@dataclass
class SamlPerson:
    subject: str
    groups: list[str] = field(default_factory=list)
    authn_context: str = PASSWORD_ONLY
    uid: str = "b.tester"
    mail: str = "b.tester@hospital.example"


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def _self_signed(folder: Path) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "loopback-idp")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    key_file, cert_file = folder / "idp.key", folder / "idp.crt"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))  # fmt: skip
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(key_file), str(cert_file)


class LoopbackIdp:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.person: SamlPerson | None = None
        self.requests: list[object] = []  # the authentication requests received, parsed
        self._http = make_server("127.0.0.1", 0, self._app, server_class=_ThreadingServer,
                                 handler_class=_QuietHandler)  # fmt: skip
        self.base = f"http://127.0.0.1:{self._http.server_port}"
        self.key_file, self.cert_file = _self_signed(folder)
        self.server: Server | None = None

    def trust(self, sp_metadata: str) -> "LoopbackIdp":
        """Register the service provider (its metadata) and start serving."""
        config = IdPConfig()
        config.load({
            "entityid": f"{self.base}/metadata",
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "key_file": self.key_file,
            "cert_file": self.cert_file,
            "metadata": {"inline": [sp_metadata]},
            "service": {"idp": {
                "name": "Loopback IdP",
                "endpoints": {
                    "single_sign_on_service": [(f"{self.base}/sso/redirect", BINDING_HTTP_REDIRECT)],
                },
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "policy": {"default": {
                    "lifetime": {"minutes": 5}, "attribute_restrictions": None,
                    "name_form": NAME_FORMAT_URI,
                }},
            }},
        })  # fmt: skip
        self.server = Server(config=config)
        self.metadata = create_metadata_string(None, config=config, valid=1).decode()
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _app(self, environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/metadata":
            start_response("200 OK", [("Content-Type", "application/samlmetadata+xml")])
            return [self.metadata.encode()]
        if path == "/sso/redirect":
            query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            status, body = self._single_sign_on(query)
            start_response(status, [("Content-Type", "text/html; charset=utf-8")])
            return [body.encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    def _single_sign_on(self, query: dict) -> tuple[str, str]:
        parsed = self.server.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
        request = parsed.message
        self.requests.append(request)
        if self.person is None:
            return "403 Forbidden", "no one signed in"
        arguments = self.server.response_args(request, [BINDING_HTTP_POST])
        person = self.person
        response = self.server.create_authn_response(
            identity={"uid": [person.uid], "mail": [person.mail], "groups": person.groups},
            userid=person.subject,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=person.subject),
            authn={"class_ref": person.authn_context, "authn_auth": self.base},
            sign_assertion=True,
            **arguments,
        )
        http = self.server.apply_binding(
            BINDING_HTTP_POST, str(response), arguments["destination"],
            query.get("RelayState", ""), response=True,
        )  # fmt: skip
        return "200 OK", http["data"]


def posted_form(page: str) -> tuple[str, dict[str, str]]:
    """The action and fields of the auto-posting form the provider answers with."""
    action = html.unescape(re.search(r'action="([^"]+)"', page).group(1))
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', page)
    }
    return action, fields
