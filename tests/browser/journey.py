"""What a person does in the browser: sign in, save a screenshot, fetch a download."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect

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
    """Click the page's download link named ``link`` (which must point at ``url``) and return
    the file the browser saved."""
    anchor = page.get_by_role("link", name=link, exact=True)
    expect(anchor).to_have_count(1)
    expect(anchor).to_have_attribute("href", url)
    with page.expect_download() as info:
        anchor.click()
    return Download(info.value.suggested_filename, Path(info.value.path()).read_bytes())
