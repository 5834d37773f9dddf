"""Catalog loading: shipped defaults, deployment overrides, and errors that name the problem."""

from pathlib import Path

import pytest

from orgpulse.catalog import CatalogError, load_catalog

COVERAGE = '[metrics.x]\nkind = "coverage"\nlabel = "X"\nexplanation = "e"\n'
BLOCKER = '[blockers.x]\nlabel = "X"\naction = "Do it."\n'


def test_shipped_catalog_loads_with_the_seed_profile() -> None:
    catalog = load_catalog()
    assert catalog.profile(None) == {
        "teacher_activation": 25.0,
        "teacher_usage": 25.0,
        "scoring_timeliness": 20.0,
        "upload_failure_rate": 15.0,
        "checklist_completion": 15.0,
    }
    assert catalog.profile("pilot")["teacher_activation"] == 40.0
    assert catalog.profile("no-such-mode") == catalog.profile("default")
    assert {m.kind for m in catalog.metrics.values()} >= {
        "active_share", "count", "distinct", "ratio", "backlog", "timely_share", "completion",
        "active_units", "checklist", "coverage",
    }
    assert all(m.label and m.explanation for m in catalog.metrics.values())
    # Quality flags are shown, not scored.
    assert all("resubmit_rate" not in weights and "standards_coverage" not in weights
               for weights in catalog.profiles.values())
    coverage = catalog.metric("standards_coverage")
    assert (coverage.events, coverage.tag_property, coverage.required_trait) == (
        ("Assignment Created",), "standards", "required_standards"
    )
    assert catalog.metric("resubmit_rate").numerator == ("Resubmission Requested",)
    assert {k: (b.missing_events, b.metric) for k, b in catalog.blockers.items()} == {
        "rostering": (("Roster Sync Completed",), None),
        "lms": (("LMS Connected",), None),
        "sign_in": (("Login",), None),
        "upload_failures": ((), "upload_failure_rate"),
    }
    assert all(b.label and b.action and b.runbook for b in catalog.blockers.values())


def test_override_replaces_and_extends_entries(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(
        '[metrics.teacher_activation]\nkind = "active_share"\nlabel = "Staff activated"\n'
        'explanation = "Staff who signed in."\npopulation = { role = "staff" }\n'
        'events = ["Sign In"]\nwindow_days = 7\ngood = 0.9\nbad = 0.5\n'
        '[metrics.exports]\nkind = "count"\nlabel = "Exports"\nexplanation = "Exports made."\n'
        'events = ["Export Created"]\n'
    )
    catalog = load_catalog(path)
    activation = catalog.metric("teacher_activation")
    assert (activation.label, activation.population.role, activation.events) == (
        "Staff activated", "staff", ("Sign In",)
    )
    assert catalog.metric("exports").events == ("Export Created",)
    assert catalog.metric("teacher_usage").label == "Teachers assigning work"  # untouched
    assert catalog.sources == ("orgpulse/catalog/defaults.toml", str(path))


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ("[metrics.x]\nkind = \"count\"\nlabel = \"X\"\nexplanation = \"e\"\n",
         "metrics.x: Value error, kind 'count' requires 'events'"),
        ("[metrics.x]\nkind = \"ratio\"\nlabel = \"X\"\nexplanation = \"e\"\nnumerator = [\"A\"]\n"
         "denominator = [\"B\"]\ngood = 0.1\nbad = 0.5\n",
         "metrics.x: Value error, direction is 'higher' but good=0.1 and bad=0.5 point the "
         "other way"),
        ("[metrics.x]\nkind = \"count\"\nlabel = \"X\"\nexplanation = \"e\"\nevents = [\"A\"]\n"
         "good = 1\n", "metrics.x: Value error, set both good and bad thresholds, or neither"),
        ("[metrics.x]\nkind = \"backlog\"\nlabel = \"X\"\nexplanation = \"e\"\npair = \"nope\"\n",
         "metrics.x: unknown pair 'nope'"),
        ("[metrics.x]\nkind = \"sum\"\nlabel = \"X\"\nexplanation = \"e\"\n",
         "metrics.x: kind: Input should be"),
        ("[metrics.x]\nkind = \"count\"\nlabel = \"X\"\nexplanation = \"e\"\nevents = [\"A\"]\n"
         "colour = \"red\"\n", "metrics.x: colour: Extra inputs are not permitted"),
        ("[profiles.default]\nassessments_assigned_7d = 10\n",
         "profiles.default: metric 'assessments_assigned_7d' has no good/bad thresholds"),
        ("[profiles.default]\nteacher_activation = 10\nmissing = 5\n",
         "profiles.default: unknown metric 'missing'"),
        ("[profiles.default]\nteacher_activation = -1\n",
         "profiles.default: weight of 'teacher_activation' must be a positive number"),
        (COVERAGE + "tag_property = \"standards\"\nrequired_trait = \"required\"\n",
         "metrics.x: Value error, kind 'coverage' requires 'events'"),
        (COVERAGE + "events = [\"A\"]\nrequired_trait = \"required\"\n",
         "metrics.x: Value error, kind 'coverage' requires 'tag_property'"),
        (COVERAGE + "events = [\"A\"]\ntag_property = \"standards\"\n",
         "metrics.x: Value error, kind 'coverage' requires 'required_trait'"),
        (COVERAGE + "events = [\"A\"]\ntag_property = \"\"\nrequired_trait = \"required\"\n",
         "metrics.x: tag_property: String should have at least 1 character"),
        ("[metrics.x]\nkind = \"count\"\nlabel = \"X\"\nexplanation = \"e\"\nevents = [\"A\"]\n"
         "tag_property = \"standards\"\n",
         "metrics.x: Value error, 'tag_property' applies only to kind 'coverage'"),
        (BLOCKER, "blockers.x: Value error, set exactly one condition: 'missing_events' or "
         "'metric'"),
        (BLOCKER + "missing_events = [\"A\"]\nmetric = \"upload_failure_rate\"\n",
         "blockers.x: Value error, set exactly one condition"),
        (BLOCKER + "metric = \"nope\"\n", "blockers.x: unknown metric 'nope'"),
        (BLOCKER + "metric = \"assessments_assigned_7d\"\n",
         "blockers.x: metric 'assessments_assigned_7d' has no 'bad' threshold"),
        ("[blockers.x]\nlabel = \"X\"\nmissing_events = [\"A\"]\n",
         "blockers.x: action: Field required"),
        (BLOCKER + "missing_events = [\"\"]\n",
         "blockers.x: missing_events.0: String should have at least 1 character"),
        (BLOCKER + "missing_events = [\"A\"]\nwhen = \"always\"\n",
         "blockers.x: when: Extra inputs are not permitted"),
        ("blockers = 3\n", "[blockers] must be a table"),
        ("[dashboards]\nx = 1\n", "unknown section(s) dashboards"),
        ("[metrics.x\n", "not valid TOML"),
    ],
)
def test_invalid_override_names_file_entry_and_problem(
    tmp_path: Path, toml: str, problem: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(CatalogError) as excinfo:
        load_catalog(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}: ")
    assert problem in message


def test_missing_override_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read the catalog file"):
        load_catalog(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("mode", "kind", "profile"),
    [(None, "employer", "employer"), ("pilot", "employer", "pilot"), (None, "district", "default"),
     (None, None, "default"), ("unknown-mode", "university", "university")],
)
def test_profile_for_rollout_mode_then_kind(mode: str | None, kind: str | None,
                                            profile: str) -> None:
    assert load_catalog().profile_name_for(rollout_mode=mode, kind=kind) == profile


def test_aggregate_tabs_list_people_count_metrics() -> None:
    catalog = load_catalog()
    assert catalog.aggregate.engagement == ("member_sign_in", "member_app_use")
    assert catalog.aggregate.wellbeing == ("programme_participation", "programme_progress")
    assert catalog.metric("programme_participation").events == (
        "Course Enrolled", "Lesson Completed")


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ('[aggregate]\nwellbeing = ["nope"]\n', "aggregate.wellbeing: unknown metric 'nope'"),
        ('[aggregate]\nengagement = ["login_failure_rate"]\n',
         "aggregate.engagement: metric 'login_failure_rate' is of kind 'ratio'; the aggregate "
         "view shows people counts only (distinct, active_share)"),
        ('[aggregate]\nengagement = ["teacher_activation"]\n',
         "aggregate.engagement: metric 'teacher_activation' is about role 'teacher'"),
        ('[aggregate]\nwellbeing = ["programme_progress", "programme_progress"]\n',
         "aggregate.wellbeing: a metric is listed twice"),
        ('[aggregate]\nculture = ["member_sign_in"]\n', "aggregate: culture: Extra inputs"),
        ('aggregate = 3\n', "[aggregate] must be a table"),
    ],
)
def test_aggregate_tab_errors_name_the_problem(tmp_path: Path, toml: str, problem: str) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(toml)
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert str(caught.value).startswith(str(path)), caught.value
    assert problem in str(caught.value)
