"""An administrator with one authenticator signs in to the admin in one step, in a real browser:
username, password and the code typed together land in the admin, without first being told
"Please select a device." and shown the device list (issue 20, item 5)."""

import pytest

from tests.e2e.conftest import PASSWORD
from tests.security.auth_helpers import administrator_with_device, code_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]


def test_an_administrator_signs_in_to_the_admin_with_username_password_and_code_at_once(
    page, server
):
    user, device = administrator_with_device()
    page.goto(f"{server.url}/admin/")
    page.wait_for_url(f"{server.url}/admin/login/?next=/admin/")
    page.steps("sign-in form")

    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", code_for(device))
    page.click("input[type=submit][value='Log in']")
    page.wait_for_url(f"{server.url}/admin/")
    page.steps("signed in")

    assert "Please select a device" not in page.content()
    assert "Respiratory audio portal" in page.locator("#site-name").inner_text()
    assert page.locator("#user-tools").is_visible()
    assert page.console_errors == []
