"""The browser the tests drive (``conftest.py``): it reaches nothing but the loopback, and it
keeps its HTTP cache, so that a page does not fetch the DSFR's files again from the live server."""

import pytest
from django.conf import settings
from django.core.signals import request_started
from django.urls import reverse
from playwright.sync_api import Error

from .conftest import run_axe

pytestmark = pytest.mark.browser


def test_a_page_cannot_reach_a_host_other_than_the_loopback(page):
    # 192.0.2.1 (TEST-NET-1) is never routed: without the dead proxy the request would hang.
    with pytest.raises(Error, match="ERR_PROXY_CONNECTION_FAILED"):
        page.goto("http://192.0.2.1/", timeout=5_000)
    with pytest.raises(Error, match="ERR_PROXY_CONNECTION_FAILED"):
        page.goto("http://example.org/", timeout=5_000)


def test_static_files_are_fetched_once_then_come_from_the_browser_cache(page, live_server):
    downloads = []  # static files the live server was asked for in full (not revalidations)

    def count(sender, environ, **kwargs):
        path = environ.get("PATH_INFO", "")
        if path.startswith(settings.STATIC_URL) and "HTTP_IF_MODIFIED_SINCE" not in environ:
            downloads.append(path.removeprefix(settings.STATIC_URL))

    request_started.connect(count, dispatch_uid="test-static-downloads")
    try:
        page.goto("/")
        page.goto(reverse("site_map"))
        page.goto("/")
    finally:
        request_started.disconnect(dispatch_uid="test-static-downloads")
    stylesheet = "dsfr/dist/dsfr/dsfr.min.css"
    assert stylesheet in downloads
    assert downloads.count(stylesheet) == 1, downloads
    assert len(downloads) == len(set(downloads)), downloads


def test_axe_core_is_injected_once_per_document_and_sees_each_state(page, live_server):
    page.goto("/")
    assert run_axe(page) == []
    page.evaluate("() => { window.axe.injectedBefore = true; }")
    # A new state of the same document, with a critical violation (an image without text).
    page.evaluate("() => document.querySelector('main').append(document.createElement('img'))")
    violations = run_axe(page)
    assert page.evaluate("() => window.axe.injectedBefore") is True  # not injected again
    assert [v["id"] for v in violations] == ["image-alt"]
    page.goto("/")  # a new document: axe-core is injected again
    assert run_axe(page) == []
