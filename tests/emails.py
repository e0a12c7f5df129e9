"""Checks shared by the tests of the emails."""

import re

from django.conf import settings
from django.urls import reverse

from accounts.preferences import read_token


def assert_unsubscribe_link(body: str, user, kind: str) -> None:
    """``body`` holds the one-click unsubscribe link of ``user`` for ``kind``: the link is read
    back from the body and its token checked, not compared with a token signed again by the
    test (a signature holds the second it was made: under load the two may differ)."""
    prefix = settings.SITE_URL + reverse("unsubscribe", args=["TOKEN"]).replace("TOKEN/", "")
    tokens = re.findall(re.escape(prefix) + r"([^/\s\"'<>]+)/", body)
    assert tokens, f"no unsubscribe link in:\n{body}"
    assert {read_token(token) for token in tokens} == {(user, kind)}
