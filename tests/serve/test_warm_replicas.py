"""``xai-study serve`` reports ready only when every replica is warm, and says so when the study is broken.

One replica on SQLite with the end-to-end tests' tiny study (``tests/e2e/study_setup.py``): when
``Deployment.start`` returns (what ``serve`` waits for before it prints the address), the replica's log must
already show the study opened and its maps rendered, because a replica answers its health check only after
its warm-up (``study_app.ui.warm_start``). A broken study still starts (its researcher area says why), and
the launcher repeats the replica's one-line reason on the researcher's terminal.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from e2e.study_setup import make_e2e_study

from study_app.serve.launcher import Deployment
from study_app.serve.warm_log import WARM_DONE, WARM_FAILED

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    if shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists():
        if os.environ.get("CI"):
            pytest.fail("haproxy is not installed (apt-get install haproxy)")
        pytest.skip("haproxy is not installed")
    return make_e2e_study(tmp_path_factory.mktemp("warm_replicas"), trials=2)


def _deployment(study_file: Path, tmp_path: Path, cache_dir: Path) -> Deployment:
    return Deployment(study_file, f"sqlite:///{tmp_path / 'responses.sqlite'}", replicas=1,
                      log_dir=tmp_path / "logs", env={"XAI_STUDY_CACHE": str(cache_dir)}, cwd=tmp_path)


def test_serve_is_ready_only_once_each_replica_is_warm(tiny_study, tmp_path, capsys):
    with _deployment(tiny_study.study_file, tmp_path, tiny_study.cache_dir) as deployment:
        (replica,) = deployment.replicas
        log = replica.log_text()  # read right after start() returned: nobody has opened a page
        assert ") opened; " in log and "maps ready in memory:" in log, log[-3000:]
        assert WARM_DONE in log, log[-3000:]
        assert deployment.warm_failures == []
    assert "cannot be opened" not in capsys.readouterr().out


def test_serve_repeats_a_broken_study_from_the_replicas_log(tiny_study, tmp_path, capsys):
    broken = tmp_path / "broken.toml"
    broken.write_text(tiny_study.study_file.read_text(encoding="utf-8").replace("trials = 2", "trials = 0"),
                      encoding="utf-8")
    with _deployment(broken, tmp_path, tiny_study.cache_dir) as deployment:
        (line,) = deployment.warm_failures
    assert line.startswith(f"{WARM_FAILED}: {broken}: 1 problem: tasks[0].trials: "), line
    out = capsys.readouterr().out
    assert f"replicas started, but the study cannot be opened: {broken}: 1 problem: tasks[0].trials" in out, out
