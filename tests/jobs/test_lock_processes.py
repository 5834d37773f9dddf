"""Two real processes contend for one job: the advisory lock lets exactly one do the work."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, text

from orgpulse.core.config import Settings
from orgpulse.core.db import app_url
from orgpulse.core.tenancy import unscoped

NODE = """
import sys, time, pathlib
from sqlalchemy import create_engine
from orgpulse.jobs import run_job

url, entered, release = sys.argv[1:4]

def work(conn):
    pathlib.Path(entered).write_text("in")
    deadline = time.monotonic() + 60
    while not pathlib.Path(release).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.05)
    return "did the work in " + pathlib.Path(entered).name

print(run_job(create_engine(url), "contended", work))
"""


def start(settings: Settings, entered: Path, release: Path) -> subprocess.Popen[str]:
    url = app_url(settings).render_as_string(hide_password=False)
    return subprocess.Popen(
        [sys.executable, "-c", NODE, url, str(entered), str(release)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def runs(engine: Engine) -> list[tuple[str, str, str]]:
    with unscoped(engine) as conn:
        rows = conn.execute(text("SELECT job, status, detail FROM job_runs ORDER BY run_id"))
        return [(r[0], r[1], r[2]) for r in rows]


def test_second_process_skips_while_the_first_holds_the_lock(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    first = start(settings, tmp_path / "first", release)
    wait_for(tmp_path / "first")
    second = start(settings, tmp_path / "second", release)
    out, errors = second.communicate(timeout=60)
    assert (second.returncode, out.strip()) == (0, "succeeded"), errors
    assert not (tmp_path / "second").exists()  # it never entered the work
    release.write_text("go")
    out, errors = first.communicate(timeout=60)
    assert (first.returncode, out.strip()) == (0, "succeeded"), errors
    assert runs(engine) == [
        ("contended", "succeeded", "did the work in first"),
        ("contended", "succeeded", "skipped: another node is running it"),
    ]


def test_two_processes_started_together_do_the_work_once(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    nodes = [start(settings, tmp_path / name, release) for name in ("a", "b")]
    # Whoever wins the lock enters; the loser records a skip and exits; then release the winner.
    deadline = time.monotonic() + 60
    while not ((tmp_path / "a").exists() or (tmp_path / "b").exists()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    loser = next(n for n, name in zip(nodes, "ab", strict=True) if not (tmp_path / name).exists())
    loser.communicate(timeout=60)
    release.write_text("go")
    for node in nodes:
        node.communicate(timeout=60)
        assert node.returncode == 0
    entered = [name for name in "ab" if (tmp_path / name).exists()]
    assert len(entered) == 1
    assert sorted(runs(engine)) == [
        ("contended", "succeeded", f"did the work in {entered[0]}"),
        ("contended", "succeeded", "skipped: another node is running it"),
    ]
