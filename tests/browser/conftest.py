"""Browser journeys: the real app served by uvicorn on a loopback port, driven by Chromium.

The server runs in a thread of the test process, so it shares the suite's test database and
the frozen clock. Server and browser live as long as this package's tests: nothing of them (nor
Playwright's event loop) outlasts it into the rest of the suite. Chromium is Debian's package
(``/usr/bin/chromium``), launched by Playwright; no browser is downloaded (docs/decisions.md).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from browser.journey import SCREENSHOTS

CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="package")
def live_server(app: Any) -> Iterator[str]:
    """Serve the test app over HTTP on a free loopback port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
            "(apt-get install chromium)",
            pytrace=False,
        )
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A fresh browser profile (no cookies) at 1280×800 that accepts downloads."""
    context = browser.new_context(base_url=live_server, viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where the journeys' screenshots go: ``$ORGPULSE_ARTIFACTS`` or /tmp/orgpulse-artifacts."""
    path = Path(os.environ.get("ORGPULSE_ARTIFACTS") or "/tmp/orgpulse-artifacts")  # noqa: S108
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOTS:
        terminalreporter.write_line(
            f"browser screenshots ({len(SCREENSHOTS)}): {SCREENSHOTS[0].parent}"
        )
