"""Finding 4: sign-in cannot be sprayed from one address, a stranger cannot lock a user out from
everywhere, and ``X-Forwarded-For`` is believed only from ``TRUSTED_PROXIES`` (the web server, the
lockout, the rate limits and the audit log alike)."""

import sys
import urllib.error
import urllib.request

import pytest
from django.contrib.auth.hashers import make_password

from portal.core.models import AuditEvent, Membership, Role
from portal.core.observability import client_ip
from tests.api.conftest import clear_throttle_history
from tests.factories import UserFactory
from tests.processes import LiveProcess, free_port, http_status
from tests.security.hardening_helpers import form_sign_in, token_request

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
WARD = "198.51.100.20"  # a hospital proxy: every clinician of the ward comes from it


@pytest.fixture(autouse=True)
def sign_in_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TRUSTED_PROXIES = []
    clear_throttle_history()  # the anonymous rate (60/min) stays on, as in production
    yield settings
    clear_throttle_history()


def clinicians(site, count: int) -> list:
    User = UserFactory._meta.model
    users = User.objects.bulk_create(
        User(username=f"ward-{i:03d}", password=make_password(PASSWORD)) for i in range(count)
    )
    Membership.objects.bulk_create(
        Membership(user=user, site=site, role=Role.CLINICIAN) for user in users
    )
    return users


def test_a_ward_behind_one_address_signs_in_while_a_spray_from_it_is_throttled(
    site, sign_in_settings
):
    limit = sign_in_settings.LOGIN_ADDRESS_FAILURE_LIMIT
    ward = clinicians(site, 100)

    shift = [token_request(u.username, PASSWORD, address=WARD).status_code for u in ward]
    spray = [token_request(f"guess-{i}", "Winter2026!", address=WARD) for i in range(30)]
    elsewhere = token_request(ward[0].username, PASSWORD, address="203.0.113.50")

    assert shift == [200] * 100
    # The failure that reaches the limit is answered "paused" already.
    assert [r.status_code for r in spray] == [401] * (limit - 1) + [429] * (31 - limit)
    refused = spray[-1]
    assert refused.json()["error"]["code"] == "sign_in_paused" and int(refused["Retry-After"]) > 0
    assert elsewhere.status_code == 200


def test_the_sign_in_form_counts_failures_across_usernames_per_address(sign_in_settings):
    limit = sign_in_settings.LOGIN_ADDRESS_FAILURE_LIMIT

    spray = [form_sign_in(f"guess-{i}", "Winter2026!", address=WARD) for i in range(limit + 2)]

    # The form again, then (from the failure that reaches the limit) paused.
    assert [r.status_code for r in spray] == [200] * (limit - 1) + [429] * 3
    assert b"Too many failed sign-ins" in spray[-1].content


def test_five_wrong_passwords_lock_the_user_at_that_address_only(clinician, sign_in_settings):
    stranger, own = "192.0.2.66", "203.0.113.7"
    for _ in range(sign_in_settings.AXES_FAILURE_LIMIT):
        token_request(clinician.username, "not-the-password", address=stranger)

    at_the_strangers = token_request(clinician.username, PASSWORD, address=stranger)
    at_their_own = token_request(clinician.username, PASSWORD, address=own)

    assert at_the_strangers.status_code == 429
    assert at_their_own.status_code == 200


def test_a_username_failing_from_many_addresses_gets_one_try_at_each_new_one(
    clinician, sign_in_settings
):
    for i in range(sign_in_settings.LOGIN_USERNAME_FAILURE_LIMIT):
        token_request(clinician.username, "not-the-password", address=f"192.0.2.{i + 1}")

    one_guess = token_request(clinician.username, "still-not-it", address="198.51.100.99")
    then_paused = token_request(clinician.username, PASSWORD, address="198.51.100.99")
    the_user = token_request(clinician.username, PASSWORD, address="203.0.113.7")

    assert one_guess.status_code == 429  # checked, wrong, and that address is now paused
    assert then_paused.status_code == 429  # even the right password is not tried there
    assert the_user.status_code == 200


def test_a_forged_forwarded_for_changes_neither_the_lockout_nor_the_audited_address(clinician):
    for i in range(5):
        token_request(
            clinician.username, "not-the-password", address="127.0.0.1",
            forwarded_for=f"203.0.113.{i + 1}",
        )  # fmt: skip

    locked = token_request(
        clinician.username, PASSWORD, address="127.0.0.1", forwarded_for="203.0.113.200"
    )

    assert locked.status_code == 429
    addresses = set(
        AuditEvent.objects.filter(action="auth.sign_in_failed").values_list("ip", flat=True)
    )
    assert addresses == {"127.0.0.1"}


def test_behind_a_trusted_proxy_each_client_has_its_own_address(clinician, sign_in_settings):
    sign_in_settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    for _ in range(5):
        token_request(
            clinician.username, "not-the-password", address="10.1.2.3",
            forwarded_for="198.51.100.1, 203.0.113.9",
        )  # fmt: skip

    attacker = token_request(
        clinician.username, PASSWORD, address="10.1.2.3", forwarded_for="203.0.113.9"
    )
    user = token_request(
        clinician.username, PASSWORD, address="10.1.2.3", forwarded_for="203.0.113.7, 10.9.9.9"
    )

    assert attacker.status_code == 429 and user.status_code == 200
    failed = AuditEvent.objects.filter(action="auth.sign_in_failed")
    assert set(failed.values_list("ip", flat=True)) == {"203.0.113.9"}


class FakeRequest:
    def __init__(self, peer: str, forwarded: str = ""):
        self.META = {"REMOTE_ADDR": peer, "HTTP_X_FORWARDED_FOR": forwarded}


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        ([], "127.0.0.1", "203.0.113.9", "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1", "203.0.113.9", "203.0.113.9"),
        (["10.0.0.0/8"], "10.0.0.2", "6.6.6.6, 203.0.113.9, 10.0.0.1", "203.0.113.9"),
        (["10.0.0.0/8"], "192.0.2.1", "203.0.113.9", "192.0.2.1"),
        (["10.0.0.0/8"], "10.0.0.2", "not-an-address", "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", "", "10.0.0.2"),
        (["::1"], "::1", "2001:db8::5", "2001:db8::5"),
    ],
)
def test_client_ip_believes_forwarded_for_only_from_trusted_proxies(
    sign_in_settings, trusted, peer, forwarded, client
):
    sign_in_settings.TRUSTED_PROXIES = trusted

    assert client_ip(FakeRequest(peer, forwarded)) == client


@pytest.mark.django_db(transaction=True)
def test_the_web_server_as_started_ignores_a_forwarded_for_from_loopback(process_env, tmp_path):
    from portal.stack import web_server_argv

    port = free_port()
    env = {**process_env, "TRUSTED_PROXIES": ""}
    argv = web_server_argv(sys.executable, host="127.0.0.1", port=port, trusted_proxies=[])
    server = LiveProcess("web", argv, log_dir=tmp_path, env=env)
    url = f"http://127.0.0.1:{port}"
    server.start(ready=lambda: http_status(f"{url}/healthz", 1) == 200)
    try:
        request = urllib.request.Request(
            f"{url}/api/v1/auth/token/", data=b"username=someone&password=wrong-password-1",
            headers={"X-Forwarded-For": "203.0.113.77"}, method="POST",
        )  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
    finally:
        server.stop()

    assert refused.value.code == 401
    failed = AuditEvent.objects.filter(action="auth.sign_in_failed")
    assert list(failed.values_list("ip", flat=True)) == ["127.0.0.1"]
