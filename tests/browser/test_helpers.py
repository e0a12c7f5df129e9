"""The browser tests' login helper: the second factor never makes them wait (no browser here)."""

import time

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP

from tests import factories as f
from tests.browser.helpers import login_totp_code


def test_a_user_logging_in_again_and_again_gets_an_accepted_code_at_once(db):
    user = f.UserFactory(is_staff=True)  # staff get an authenticator app
    started = time.monotonic()
    for _ in range(4):  # more logins than one 30-second step and its tolerance allow
        code = login_totp_code(user)
        authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
        assert TOTP(authenticator).validate_code(code)
    assert time.monotonic() - started < 5
