"""Runbooks: shipped in the package, rendered for signed-in users, every link resolves."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import Factory
from orgpulse.auth import Role
from orgpulse.catalog import load_catalog

SRC = Path(__file__).resolve().parents[2] / "src" / "orgpulse"
LINK = re.compile(r"/docs/runbooks/([A-Za-z0-9_.-]+)")
REQUIRED = {
    "sso-misconfiguration",
    "scim-conflicts",
    "rostering-sync-failures",
    "upload-failures",
    "reporting-discrepancies",
    "invoice-po-issues",
    "org-analytics-support",
}
SECTIONS = ("## Symptoms", "## Checks", "## Resolution", "## Escalation")
DIAGNOSTIC_SECTIONS = ("Identity", "Rostering", "Recording", "Reporting")


def shipped() -> dict[str, str]:
    folder = resources.files("orgpulse.guides") / "runbooks"
    return {
        f.name.removesuffix(".md"): f.read_text(encoding="utf-8")
        for f in folder.iterdir()
        if f.name.endswith(".md")
    }


@pytest.fixture
def signed_in(client: TestClient, factory: Factory) -> TestClient:
    factory.org("acme", "Acme")
    factory.login(client, factory.user(Role.MEMBER, org_id=1))
    return client


def test_every_runbook_has_the_four_sections_and_names_diagnostics() -> None:
    books = shipped()
    assert set(books) >= REQUIRED
    for name, text in books.items():
        positions = [text.find(s) for s in SECTIONS]
        assert -1 not in positions, (name, positions)
        assert positions == sorted(positions), name
        assert any(f"Diagnostics → {s}" in text for s in DIAGNOSTIC_SECTIONS), name


def catalog_links() -> set[str]:
    catalog = load_catalog()
    links = {m.runbook for m in catalog.metrics.values() if m.runbook}
    links |= {b.runbook for b in catalog.blockers.values() if b.runbook}
    raw = (SRC / "catalog" / "defaults.toml").read_text()
    assert set(re.findall(r'runbook = "([^"]+)"', raw)) == links
    return links


def template_links() -> set[str]:
    found: set[str] = set()
    for path in (SRC / "web" / "templates").rglob("*.html"):
        found |= {f"/docs/runbooks/{n}" for n in LINK.findall(path.read_text())}
    return found


def test_every_catalog_and_template_runbook_link_resolves(signed_in: TestClient) -> None:
    links = catalog_links() | template_links()
    assert "/docs/runbooks/scoring-backlog" in links and "/docs/runbooks/sso" in links
    for link in sorted(links):
        response = signed_in.get(link)
        assert response.status_code == 200, link
        assert "<h2>Symptoms</h2>" in response.text, link


def test_alias_redirects_to_the_canonical_runbook(signed_in: TestClient) -> None:
    response = signed_in.get("/docs/runbooks/sso", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/docs/runbooks/sso-misconfiguration"


def test_page_renders_markdown_with_its_title_and_table(signed_in: TestClient) -> None:
    response = signed_in.get("/docs/runbooks/org-analytics-support")
    assert response.status_code == 200
    assert "<title>Org-level analytics support · OrgPulse</title>" in response.text
    assert "<h1>Org-level analytics support</h1>" in response.text
    assert "<th>Symptom</th>" in response.text
    assert "<code>ingest_lag_ms</code>" in response.text


def test_index_lists_every_runbook_by_title(signed_in: TestClient) -> None:
    response = signed_in.get("/docs/runbooks")
    assert response.status_code == 200
    hrefs = re.findall(r'<li><a href="/docs/runbooks/([a-z0-9-]+)">', response.text)
    assert sorted(hrefs) == sorted(shipped())
    assert '<a href="/docs/runbooks/invoice-po-issues">Invoice and purchase-order issues</a>' in (
        response.text
    )


@pytest.mark.parametrize(
    "path",
    [
        "/docs/runbooks/nope",
        "/docs/runbooks/..%2F..%2F..%2Fpyproject.toml",
        "/docs/runbooks/..%2Fservice.py",
        "/docs/runbooks/%2e%2e",
        "/docs/runbooks/activation.md",
        "/docs/runbooks/..%5C..%5Cpyproject.toml",
        "/docs/runbooks/%2Fetc%2Fpasswd",
    ],
)
def test_unknown_names_and_traversal_get_the_404_page(signed_in: TestClient, path: str) -> None:
    response = signed_in.get(path)
    assert response.status_code == 404
    assert "Not found" in response.text
    assert "[build-system]" not in response.text and "root:" not in response.text


def test_traversal_does_not_escape_the_route(signed_in: TestClient) -> None:
    # Unencoded dots are normalised by the client; whatever it lands on is not a file's source.
    response = signed_in.get("/docs/runbooks/../../pyproject.toml")
    assert "[build-system]" not in response.text


def test_raw_html_in_markdown_is_escaped() -> None:
    from orgpulse.guides.service import _markdown

    html = _markdown().render("# T\n\n<script>alert(1)</script>\n")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_signed_out_visitors_are_sent_to_login(client: TestClient) -> None:
    response = client.get("/docs/runbooks/activation", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/docs/runbooks/activation"


def test_runbooks_are_package_data() -> None:
    import fnmatch
    import tomllib

    config = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["orgpulse"]
    files = [p.relative_to(SRC).as_posix() for p in (SRC / "guides" / "runbooks").glob("*.md")]
    assert len(files) == len(shipped()) >= len(REQUIRED)
    assert all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files)
    assert "markdown-it-py>=3.0" in config["project"]["dependencies"]
