"""The README works as written: every command in its ```bash blocks runs, in order, in a copy of the project
as a fresh clone has it, and afterwards ``git status --porcelain`` of that copy is still empty (no command
changes a tracked file: e.g. ``evaluate`` must not rewrite a bundled checkpoint's report).

The copy holds the working tree's tracked and not-ignored files, committed in a fresh repository, with
``.venv`` linked to this project's. Commands that start a server (``streamlit run``) are started, must
answer the health check, and are stopped. Nothing is skipped silently: the few commands that cannot run
here are listed in ``EXCLUDED`` with the reason, and one runs in part (``IN_PART``). Between launching
"Your first study" and exporting it, the reader takes part once: here a simulated participant
(``TAKE_PART``), so the export has rows to write. The table of subcommands is a reference with UPPERCASE
placeholders, not commands to run, and is not covered here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[1]
README = PROJECT_ROOT / "README.md"
SETUP = ('python3 -m venv .venv && .venv/bin/pip install "torch==2.14.1" "torchvision==0.29.1" -e . '
         '&& .venv/bin/streamlit run study_app/main.py')
EXCLUDED = {
    "bash .ci/run": "this test suite itself (installs system packages, then runs every test, this one included)",
    '.venv/bin/pip install -e ".[postgres]"': "downloads packages from PyPI; the test environment already has them",
    ".venv/bin/xai-study check --study my_study.toml --replicas 4":
        "a study file of the reader's own (my_study.toml) on PostgreSQL; covered by tests/serve/test_check_replicas.py",
    ".venv/bin/xai-study serve --replicas 4 --study my_study.toml "
    "--db postgresql+psycopg://xai:PW@127.0.0.1/study --port 8080 --host 0.0.0.0":
        "needs a PostgreSQL server with the reader's password and HAProxy; covered by tests/e2e/test_scale_out.py",
}
# command -> (what runs instead, why)
IN_PART = {
    SETUP: (".venv/bin/streamlit run study_app/main.py",
            "creating .venv and pip install need the network and are what this suite runs in; the demo start runs"),
}
SERVER_START_S = 240
FIRST_STUDY_LAUNCH = ".venv/bin/streamlit run study_app/main.py -- --study ../my_study/study.toml"
# What the reader does between launching their first study and exporting it: take part once. Simulated
# with the engine on the study's database (the browser walks are the end-to-end tests' job).
TAKE_PART = """
import random, sys
sys.path.insert(0, "tests")
from study.kit import run_participant
from study_app.store import Repository, make_engine
from study_app.study import StudyEngine, load_study
engine = StudyEngine(load_study(sys.argv[1]), Repository(make_engine(sys.argv[2])))
_, steps = run_participant(engine, random.Random(1))
assert steps[-1].kind == "done", steps[-1]
"""


def readme_commands(text: str) -> list[str]:
    """Commands of every ```bash block, in order: continuation lines joined, a heredoc kept with its body."""
    commands = []
    for indent, body in re.findall(r"^([ \t]*)```bash\n(.*?)^\1```", text, flags=re.M | re.S):
        lines = [line[len(indent):] if line.startswith(indent) else line for line in body.splitlines()]
        i = 0
        while i < len(lines):
            command = lines[i]
            i += 1
            if not command.strip() or command.lstrip().startswith("#"):
                continue
            while command.endswith("\\") and i < len(lines):
                command = command[:-1].rstrip() + " " + lines[i].strip()
                i += 1
            heredoc = re.search(r"<<-?\s*'?\"?(\w+)'?\"?", command)
            if heredoc:
                end = next(j for j in range(i, len(lines)) if lines[j].strip() == heredoc.group(1))
                command = "\n".join([command, *lines[i:end + 1]])
                i = end + 1
            commands.append(command)
    return commands


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_copy(target: Path) -> Path:
    """The project's tracked and not-ignored files, as a new clone would have them, in a new git repository."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=PROJECT_ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = PROJECT_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git = ["git", "-c", "user.name=readme-test", "-c", "user.email=readme@test", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=target, check=True)
    subprocess.run([*git, "add", "-A"], cwd=target, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fresh clone"], cwd=target, check=True)
    (target / ".venv").symlink_to(PROJECT_ROOT / ".venv")  # as after the set-up command; .gitignore's ".venv/"
    (target / ".git" / "info" / "exclude").write_text(".venv\n")  # matches only a real folder, not this link
    return target


def run_server(command: str, cwd: Path, env: dict[str, str], log: Path) -> None:
    """Start ``command``, wait for Streamlit's health check, stop it (SIGTERM to its process group)."""
    port = free_port()
    env = {**env, "STREAMLIT_SERVER_PORT": str(port), "STREAMLIT_SERVER_HEADLESS": "true",
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with log.open("wb") as out:
        process = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + SERVER_START_S
            while True:
                assert process.poll() is None, f"{command!r} exited with {process.returncode}:\n{log.read_text()}"
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"{command!r} not healthy in {SERVER_START_S} s:\n{log.read_text()}"
                time.sleep(0.5)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-3000:]


def test_readme_blocks_are_parsed_as_expected():
    commands = readme_commands(README.read_text(encoding="utf-8"))
    assert commands[0] == SETUP and commands[1] == "bash .ci/run"  # the two set-up commands come first
    assert set(EXCLUDED) | set(IN_PART) <= set(commands), "an exclusion names a command the README no longer has"
    study_file = next(c for c in commands if c.startswith("cat > ../my_study/study.toml"))
    assert study_file.rstrip().endswith("EOF") and "[[tasks]]" in study_file


def test_every_readme_command_runs_and_leaves_the_clone_clean(tmp_path):
    commands = readme_commands(README.read_text(encoding="utf-8"))
    clone = fresh_copy(tmp_path / "xai-study")
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XAI_STUDY_")}  # nothing configured
    env |= {"PYTHONPATH": str(clone), "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}  # the copy's code, not ours
    ran = []
    for n, command in enumerate(commands):
        if command in EXCLUDED:
            continue
        command = IN_PART.get(command, (command, ""))[0]
        if command.startswith("export "):  # as the reader's shell would: command substitution included
            for assignment in shlex.split(command)[1:]:
                name = assignment.split("=", 1)[0]
                env[name] = subprocess.run(["bash", "-c", f'{command}\nprintf %s "${name}"'], cwd=clone, env=env,
                                           capture_output=True, text=True, check=True).stdout
        elif "streamlit run" in command:
            run_server(command, clone, env, logs / f"{n:02d}_server.log")
            if command == FIRST_STUDY_LAUNCH:
                study = tmp_path / "my_study"
                subprocess.run([str(clone / ".venv" / "bin" / "python"), "-c", TAKE_PART, str(study / "study.toml"),
                                f"sqlite:///{study / 'responses.sqlite'}"], cwd=clone, env=env, check=True, timeout=300)
        else:
            done = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True,
                                  timeout=900, check=False)
            assert done.returncode == 0, f"{command!r} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            assert "Traceback" not in done.stderr, done.stderr[-3000:]
        ran.append(command)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True,
                                check=True).stdout
        assert status == "", f"after {command!r} the clone has changes:\n{status}"

    assert any("streamlit run" in c for c in ran) and any(c.startswith(".venv/bin/xai-study check") for c in ran)
    assert sorted(p.name for p in (clone / "runs" / "evaluate").iterdir())  # evaluate wrote to its own folder
    csv = tmp_path / "my_study" / "responses.csv"
    rows = csv.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("study_id,") and len(rows) == 1 + 4 + 1, "one row per trial and attention check"
    assert (tmp_path / "my_study" / "cache").is_dir()
