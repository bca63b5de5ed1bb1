"""The warm-up's log lines: a broken study in one line naming the file and every field at fault, and the
launcher finding those lines in a replica's log."""

from __future__ import annotations

from pathlib import Path

from study_app.serve.warm_log import WARM_FAILED, warm_failures
from study_app.study.errors import StudyFileError, StudyFileErrors
from study_app.ui.warm_start import describe_study_error

STUDY = Path("/studies/s.toml")


def test_every_problem_of_a_study_file_is_on_one_line():
    exc = StudyFileErrors([StudyFileError(str(STUDY), "tasks[0].trials", "must be an integer,\n got str"),
                           StudyFileError(str(STUDY), "methods[1].name", "unknown method 'x'")])
    line = describe_study_error(STUDY, exc)
    assert "\n" not in line
    assert line == (f"{WARM_FAILED}: {STUDY}: 2 problems: tasks[0].trials: must be an integer, got str; "
                    "methods[1].name: unknown method 'x'")


def test_one_problem_and_other_failures_are_one_line_too():
    assert describe_study_error(STUDY, StudyFileError(str(STUDY), "", "not valid TOML")) == (
        f"{WARM_FAILED}: {STUDY}: 1 problem: (file): not valid TOML")
    line = describe_study_error(STUDY, FileNotFoundError("no checkpoint at\n/ckpt"))
    assert line == f"{WARM_FAILED}: {STUDY}: FileNotFoundError: no checkpoint at /ckpt"


def test_the_launcher_finds_the_failure_lines_in_a_replica_log():
    log = ("2026-12-03 14:16:05,441 INFO study_app.x: something\n"
           f"2026-12-03 14:16:06,000 ERROR study_app.warm_start: {WARM_FAILED}: {STUDY}: 1 problem: a: b\n")
    assert warm_failures(log) == [f"{WARM_FAILED}: {STUDY}: 1 problem: a: b"]
    assert warm_failures("nothing here\n") == []
