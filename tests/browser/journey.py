"""What a person does in the browser: sign in, save a screenshot, fetch a download."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page

from factories import PASSWORD

SCREENSHOTS: list[Path] = []


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person does."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def screenshot(page: Page, artifacts: Path, name: str) -> Path:
    """Save what the browser shows now as ``<artifacts>/<name>.png``."""
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    SCREENSHOTS.append(path)
    return path


@dataclass(frozen=True)
class Download:
    filename: str
    body: bytes


def download(page: Page, *, link: str, url: str) -> Download:
    """Click the page's download link named ``link``; on a page without one, fetch ``url`` with
    the browser's own cookies (as following a bookmarked link would)."""
    anchor = page.get_by_role("link", name=link)
    if anchor.count():
        with page.expect_download() as info:
            anchor.first.click()
        return Download(info.value.suggested_filename, Path(info.value.path()).read_bytes())
    response = page.request.get(url)
    assert response.status == 200, response.text()
    match = re.fullmatch(r'attachment; filename="([^"]+)"', response.headers["content-disposition"])
    assert match, response.headers["content-disposition"]
    return Download(match.group(1), response.body())
