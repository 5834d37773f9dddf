"""Documentation stays in step with the code: every setting is in docs/configuration.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import AliasChoices
from pydantic.fields import FieldInfo

from orgpulse.core.config import Settings

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DOC = ROOT / "docs" / "configuration.md"
ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|(.*)\|\s*$", re.M)


def env_names(name: str, field: FieldInfo) -> list[str]:
    """The environment variables a field is read from, preferred name first."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    if isinstance(alias, str):
        return [alias]
    prefix = Settings.model_config.get("env_prefix", "")
    return [f"{prefix}{name}".upper()]


def documented_default(default: Any) -> str:
    """How the table writes a default: ``(unset)``, ``true``/``false``, or the value in code."""
    if default is None:
        return "(unset)"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


def table_rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for match in ROW.finditer(CONFIG_DOC.read_text(encoding="utf-8")):
        assert match.group(1) not in rows, f"{match.group(1)} is documented twice"
        rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def test_settings_fields_have_env_names() -> None:
    """Pin the naming rule itself, so the doc check below cannot pass on a wrong rule."""
    fields = Settings.model_fields
    assert env_names("database_url", fields["database_url"]) == [
        "DATABASE_URL", "ORGPULSE_DATABASE_URL"
    ]
    assert env_names("database_read_url", fields["database_read_url"])[0] == "DATABASE_READ_URL"
    assert env_names("retention_days", fields["retention_days"]) == ["ORGPULSE_RETENTION_DAYS"]
    assert all(f.description for f in fields.values())


def test_every_setting_is_documented() -> None:
    assert CONFIG_DOC.is_file(), "docs/configuration.md is missing"
    rows = table_rows()
    expected = {}
    for name, field in Settings.model_fields.items():
        env = env_names(name, field)[0]
        expected[env] = field
        assert env in rows, f"{env} ({name}) is not in the settings table of {CONFIG_DOC.name}"
        default_cell, description_cell = rows[env]
        assert default_cell == documented_default(field.default), env
        assert field.description, f"Settings.{name} has no description"
        assert field.description in description_cell, f"{env}: description differs from code"
    # Nothing documented that the code does not read.
    assert set(rows) == set(expected)


def test_documented_env_vars_exist() -> None:
    """Any ORGPULSE_* name in the prose is a real one (or an accepted alias)."""
    known = {n for name, f in Settings.model_fields.items() for n in env_names(name, f)}
    mentioned = set(re.findall(r"\bORGPULSE_[A-Z0-9_]+\b", CONFIG_DOC.read_text("utf-8")))
    assert mentioned - known == set()
