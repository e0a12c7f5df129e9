"""Browser tests: Playwright's sync API driving Debian's Chromium against pytest-django's
``live_server``, with axe-core checks (DESIGN §8, §10).

Sockets: pytest runs with ``--disable-socket --allow-hosts=127.0.0.1,localhost,::1``. Because
allowed hosts are given, pytest-socket only guards ``connect()`` and lets it through to loopback;
the live server binds on 127.0.0.1 and Playwright talks to its driver over pipes, so nothing
needs to be re-enabled here. Chromium is another process that pytest-socket cannot see: it sends
every request for a host other than the loopback (which Chromium never proxies) to a proxy on a
loopback port where nothing listens, so it fails at once and a test can never reach the internet
through the browser either. (A Playwright route aborting them did the same, but any route turns
Chromium's HTTP cache off: every page then fetched the DSFR's stylesheets, scripts, fonts and
icons again from the live server.)
"""

import os
import socket
from pathlib import Path

import pytest

from ami.formats import plural

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
BLOCKING_IMPACTS = {"serious", "critical"}


@pytest.fixture(scope="session")
def dead_loopback_port():
    """A loopback port bound and never listened on, for the whole session: a connection to it
    is refused at once, and no other program can listen there meanwhile."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


@pytest.fixture(scope="session")
def browser(dead_loopback_port):
    """One Chromium for the whole session, which can reach only the loopback."""
    if not Path(CHROMIUM).exists():
        message = "Chromium absent : apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread, and Django then refuses ORM
    # calls made from the test (reading the outbox) and from the database teardown.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            # Not Playwright's ``proxy`` option: it would send the loopback to the proxy too.
            proxy = f"--proxy-server=http://127.0.0.1:{dead_loopback_port}"
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, proxy]
            )
            yield chromium
            chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) per test, in French, on the live server."""
    context = browser.new_context(locale="fr-FR", base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    # The Content-Security-Policy must refuse nothing the pages use (DSFR, htmx, autosave):
    # Chromium reports every refusal on the console, and any one fails the test.
    refused = []

    def csp_violation(message):
        if "Content Security Policy" in message.text:
            refused.append(f"{page.url}: {message.text}")

    page.on("console", csp_violation)
    yield page
    context.close()
    assert not refused, "Refusé par la Content-Security-Policy :\n" + "\n".join(refused)


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"- [{violation['impact']}] {violation['id']} : {violation['help']} "
            f"({violation['helpUrl']})"
        )
        for node in violation["nodes"][:5]:
            target = " ".join(str(part) for part in node["target"])
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {target} — {summary}")
        if len(violation["nodes"]) > 5:
            lines.append(f"    … et {len(violation['nodes']) - 5} autres éléments")
    return "\n".join(lines)


def run_axe(page) -> list[dict]:
    """The axe-core violations of the current page whose impact is serious or critical.

    axe-core (axe-playwright-python's copy, 570 kB) is injected once per document, not before
    each check: a page checked again after an htmx swap or a click keeps it. The run itself is
    axe-playwright-python's ``Axe().run(page)``: the whole document, violations only."""
    from axe_playwright_python.base import AXE_SCRIPT

    if not page.evaluate("() => typeof window.axe === 'object' && !!window.axe.run"):
        page.evaluate(AXE_SCRIPT)
    options = {"resultTypes": ["violations"]}
    violations = page.evaluate("options => axe.run(options)", options)["violations"]
    return [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]


@pytest.fixture
def axe_check():
    """``axe_check(page)`` fails the test on any serious or critical axe-core violation."""

    def check(page) -> None:
        blocking = run_axe(page)
        if blocking:
            pytest.fail(
                "Accessibilité : "
                + plural(len(blocking), "violation axe-core grave", "violations axe-core graves")
                + f" sur {page.url}\n"
                + format_violations(blocking),
                pytrace=False,
            )

    return check
