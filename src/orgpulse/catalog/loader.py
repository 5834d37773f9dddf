"""Load the catalog: shipped defaults, optionally overridden by a deployment file.

Every problem names the file, the entry and what is wrong, and stops startup: a dashboard must
never silently show a metric that means something else than the catalog says.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orgpulse.catalog.models import (
    Adoption,
    Aggregate,
    Blocker,
    Catalog,
    Funnel,
    Metric,
    Pair,
)
from orgpulse.core.config import Settings

DEFAULTS = "defaults.toml"
SECTIONS = ("pairs", "funnels", "metrics", "profiles", "blockers", "adoption", "aggregate")
AGGREGATE_KINDS = ("distinct", "active_share")
KEYED = ("pairs", "funnels", "metrics", "profiles", "blockers")


class CatalogError(ValueError):
    """The catalog cannot be used; the message names file, entry and problem."""


def _read(source: str, text: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise CatalogError(
            f"{source}: unknown section(s) {', '.join(sorted(unknown))}; "
            f"expected {', '.join(SECTIONS)}"
        )
    return data


def _problem(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(parts)


def build_catalog(layers: list[tuple[str, dict[str, Any]]]) -> Catalog:
    """Merge catalog layers (later layers replace earlier entries key by key) and validate."""
    merged: dict[str, dict[str, tuple[str, Any]]] = {s: {} for s in KEYED}
    adoption: tuple[str, dict[str, Any]] = ("defaults", {})
    aggregate: tuple[str, dict[str, Any]] = ("defaults", {})
    for source, data in layers:
        if "adoption" in data:
            if not isinstance(data["adoption"], dict):
                raise CatalogError(f"{source}: [adoption] must be a table")
            adoption = (source, {**adoption[1], **data["adoption"]})
        if "aggregate" in data:
            if not isinstance(data["aggregate"], dict):
                raise CatalogError(f"{source}: [aggregate] must be a table")
            aggregate = (source, {**aggregate[1], **data["aggregate"]})
        for section in KEYED:
            table = data.get(section, {})
            if not isinstance(table, dict):
                raise CatalogError(f"{source}: [{section}] must be a table")
            for key, value in table.items():
                merged[section][key] = (source, value)

    def entries(section: str, model: type[Any]) -> dict[str, Any]:
        out = {}
        for key, (source, value) in merged[section].items():
            if not isinstance(value, dict):
                raise CatalogError(f"{source}: {section}.{key}: must be a table")
            payload = {"key": key, **value} if model in (Metric, Blocker) else value
            try:
                out[key] = model.model_validate(payload)
            except ValidationError as exc:
                raise CatalogError(f"{source}: {section}.{key}: {_problem(exc)}") from None
        return out

    pairs: dict[str, Pair] = entries("pairs", Pair)
    funnels: dict[str, Funnel] = entries("funnels", Funnel)
    metrics: dict[str, Metric] = entries("metrics", Metric)
    for key, metric in metrics.items():
        source = merged["metrics"][key][0]
        if metric.pair is not None and metric.pair not in pairs:
            raise CatalogError(f"{source}: metrics.{key}: unknown pair {metric.pair!r}")
        if metric.funnel is not None and metric.funnel not in funnels:
            raise CatalogError(f"{source}: metrics.{key}: unknown funnel {metric.funnel!r}")
    blockers: dict[str, Blocker] = entries("blockers", Blocker)
    for key, blocker in blockers.items():
        source = merged["blockers"][key][0]
        if blocker.metric is None:
            continue
        if blocker.metric not in metrics:
            raise CatalogError(f"{source}: blockers.{key}: unknown metric {blocker.metric!r}")
        if metrics[blocker.metric].bad is None:
            raise CatalogError(
                f"{source}: blockers.{key}: metric {blocker.metric!r} has no 'bad' threshold, "
                "so it cannot raise a blocker"
            )
    profiles: dict[str, dict[str, float]] = {}
    for name, (source, weights) in merged["profiles"].items():
        if not isinstance(weights, dict) or not weights:
            raise CatalogError(f"{source}: profiles.{name}: must map metric keys to weights")
        for key, weight in weights.items():
            if key not in metrics:
                raise CatalogError(f"{source}: profiles.{name}: unknown metric {key!r}")
            if not metrics[key].scorable:
                raise CatalogError(
                    f"{source}: profiles.{name}: metric {key!r} has no good/bad thresholds, "
                    "so it cannot be scored"
                )
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                raise CatalogError(
                    f"{source}: profiles.{name}: weight of {key!r} must be a positive number"
                )
        profiles[name] = {k: float(v) for k, v in weights.items()}
    try:
        adoption_model = Adoption.model_validate(adoption[1])
    except ValidationError as exc:
        raise CatalogError(f"{adoption[0]}: adoption: {_problem(exc)}") from None
    for name in (adoption_model.created_pair, adoption_model.work_pair):
        if name not in pairs:
            raise CatalogError(f"{adoption[0]}: adoption: unknown pair {name!r}")
    aggregate_model = _aggregate(aggregate, metrics)
    if "default" not in profiles:
        raise CatalogError("catalog: profiles.default is required (the fallback profile)")
    sources = tuple(dict.fromkeys(source for source, _ in layers))
    return Catalog(
        metrics=metrics,
        pairs=pairs,
        funnels=funnels,
        profiles=profiles,
        blockers=blockers,
        adoption=adoption_model,
        aggregate=aggregate_model,
        sources=sources,
    )


def _aggregate(layer: tuple[str, dict[str, Any]], metrics: dict[str, Metric]) -> Aggregate:
    """Validate the aggregate view's tabs: known people-count metrics over the whole cohort."""
    source, data = layer
    try:
        model = Aggregate.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(f"{source}: aggregate: {_problem(exc)}") from None
    for tab in ("engagement", "wellbeing"):
        keys: tuple[str, ...] = getattr(model, tab)
        if len(set(keys)) != len(keys):
            raise CatalogError(f"{source}: aggregate.{tab}: a metric is listed twice")
        for key in keys:
            if key not in metrics:
                raise CatalogError(f"{source}: aggregate.{tab}: unknown metric {key!r}")
            metric = metrics[key]
            if metric.kind not in AGGREGATE_KINDS:
                raise CatalogError(
                    f"{source}: aggregate.{tab}: metric {key!r} is of kind {metric.kind!r}; "
                    f"the aggregate view shows people counts only "
                    f"({', '.join(AGGREGATE_KINDS)})"
                )
            if metric.population.role is not None:
                raise CatalogError(
                    f"{source}: aggregate.{tab}: metric {key!r} is about role "
                    f"{metric.population.role!r}; the aggregate view describes the whole cohort"
                )
    return model


def load_catalog(override: Path | None = None) -> Catalog:
    """Load the shipped defaults and, if given, the deployment's override file."""
    default_text = resources.files("orgpulse.catalog").joinpath(DEFAULTS).read_text("utf-8")
    layers = [
        ("orgpulse/catalog/defaults.toml", _read("orgpulse/catalog/defaults.toml", default_text))
    ]
    if override is not None:
        try:
            text = override.read_text("utf-8")
        except OSError as exc:
            raise CatalogError(f"{override}: cannot read the catalog file: {exc}") from None
        layers.append((str(override), _read(str(override), text)))
    return build_catalog(layers)


@lru_cache(maxsize=4)
def cached_catalog(override: Path | None) -> Catalog:
    return load_catalog(override)


def catalog_of(settings: Settings) -> Catalog:
    """Return the deployment's catalog (loaded once per process)."""
    return cached_catalog(settings.catalog_file)
