"""Load runbooks from the Markdown files in the package and render them to safe HTML."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from markdown_it import MarkdownIt
from pydantic import BaseModel

from orgpulse.core.errors import NotFound

# Names are looked up in the set of shipped files, never joined onto a path, so no request can
# reach outside the runbooks folder; the pattern only keeps error messages tidy.
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

# Short names the metric catalog links to, kept stable for catalogs already deployed.
ALIASES = {"sso": "sso-misconfiguration", "rostering": "rostering-sync-failures"}


class RunbookSummary(BaseModel):
    name: str
    title: str
    url: str


class Runbook(RunbookSummary):
    html: str


def _markdown() -> MarkdownIt:
    # commonmark with raw HTML off: a runbook cannot inject markup or scripts into the page.
    return MarkdownIt("commonmark", {"html": False}).enable("table")


@lru_cache(maxsize=1)
def _sources() -> dict[str, str]:
    folder = resources.files("orgpulse.guides") / "runbooks"
    return {
        entry.name.removesuffix(".md"): entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".md") and NAME.match(entry.name.removesuffix(".md"))
    }


def _title(name: str, source: str) -> str:
    for line in source.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return name.replace("-", " ").capitalize()


def resolve(name: str) -> str | None:
    """Return the runbook file name that ``name`` (or its alias) refers to, or None."""
    target = ALIASES.get(name, name)
    return target if target in _sources() else None


def list_runbooks() -> list[RunbookSummary]:
    """Every shipped runbook, by title."""
    items = [
        RunbookSummary(name=n, title=_title(n, s), url=f"/docs/runbooks/{n}")
        for n, s in _sources().items()
    ]
    return sorted(items, key=lambda r: r.title.lower())


def runbook(*, name: str) -> Runbook:
    """Render one runbook; raise NotFound for any name that is not a shipped runbook."""
    target = resolve(name)
    if target is None:
        raise NotFound("no runbook by that name")
    source = _sources()[target]
    return Runbook(
        name=target,
        title=_title(target, source),
        url=f"/docs/runbooks/{target}",
        html=_markdown().render(source),
    )
