"""Progress output: a live tqdm bar on a terminal, a few plain lines anywhere else, nothing when disabled."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from trainers.progress import LogProgress, Silent, is_terminal, progress

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_mode_follows_isatty_of_the_stream():
    from tqdm import tqdm

    assert is_terminal(FakeTTY()) and not is_terminal(io.StringIO())
    closed = io.StringIO()
    closed.close()
    assert not is_terminal(closed) and not is_terminal(None)
    bar = progress(range(3), stream=FakeTTY())
    assert isinstance(bar, tqdm)
    bar.close()
    assert isinstance(progress(range(3), stream=io.StringIO()), LogProgress)
    assert type(progress(range(3), stream=FakeTTY(), enabled=False)) is Silent


def test_terminal_gets_a_live_bar_redrawn_in_place():
    stream = FakeTTY()
    assert list(progress(range(50), desc="decode", unit="image", stream=stream)) == list(range(50))
    text = stream.getvalue()
    assert "decode" in text and "50/50" in text and "\r" in text  # redrawn with carriage returns


def test_log_gets_at_most_three_milestones_and_one_summary():
    stream, clock = io.StringIO(), Clock()
    bar = LogProgress(total=400, desc="precompute", unit="map", leave=True, stream=stream, quiet_s=10,
                      interval_s=60, clock=clock)
    with bar:
        for _ in range(400):
            clock.now += 0.5  # 200 s in all: long enough for milestones
            bar.update()
            bar.set_postfix_str("cat_1.jpg gradcam")
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert [line.split(": ")[1] for line in lines] == ["25 %", "50 %", "75 %", "done"]
    assert lines[-1].startswith("precompute: done: 400/400 map in 200.0 s, 2 map/s")
    assert lines[0].startswith("precompute: 25 %: 100/400 map")


def test_a_short_loop_in_a_log_prints_only_its_summary():
    stream = io.StringIO()
    items = list(progress(range(1000), desc="faithfulness", unit="image", stream=stream))
    assert items == list(range(1000))
    (line,) = stream.getvalue().splitlines()  # closed by the end of iteration, as tqdm does
    assert line.startswith("faithfulness: done: 1000/1000 image in ")


def test_transient_loops_in_a_log_stay_silent_unless_long():
    stream, clock = io.StringIO(), Clock()
    quick = LogProgress(range(10), total=10, desc="epoch 1/3", unit="batch", leave=False, stream=stream,
                        quiet_s=10, interval_s=60, clock=clock)
    for _ in quick:
        clock.now += 0.1
    assert stream.getvalue() == ""
    slow = LogProgress(range(8), total=8, desc="epoch 2/3", unit="batch", leave=False, stream=stream, quiet_s=10,
                       interval_s=60, clock=clock)
    for _ in slow:
        clock.now += 5
        slow.set_postfix(loss="0.512", acc="0.801")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and all(line.startswith("epoch 2/3: ") for line in lines)  # 25/50/75 %, no "done"
    assert lines[-1].endswith("; loss=0.512, acc=0.801")


def test_unknown_total_reports_on_an_interval():
    stream, clock = io.StringIO(), Clock()
    bar = LogProgress(iter(range(100)), total=None, desc="scan", unit="file", leave=True, stream=stream,
                      quiet_s=0, interval_s=30, clock=clock)
    for _ in bar:
        clock.now += 1
    lines = stream.getvalue().splitlines()
    assert [line.split(": ")[1] for line in lines] == ["running", "running", "running", "done"]
    assert lines[-1].startswith("scan: done: 100 file in 100.0 s")


def test_disabled_prints_nothing_and_still_counts():
    stream = io.StringIO()
    with progress(total=5, enabled=False, stream=stream) as bar:
        for _ in range(5):
            bar.update()
            bar.set_postfix(x=1)
    assert bar.n == 5 and stream.getvalue() == ""


def test_no_module_calls_tqdm_directly():
    """Every progress display goes through trainers.progress, which picks bar or log lines."""
    offenders = [str(path.relative_to(PROJECT_ROOT)) for package in ("trainers", "study_app", "benchmarks")
                 for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
                 if path.name != "progress.py" and "tqdm" in path.read_text(encoding="utf-8")]
    assert offenders == []


def test_a_command_without_a_terminal_writes_lines_not_a_bar(tmp_path):
    """precompute of a real (tiny) folder, stderr to a pipe as in CI: no carriage return, a few lines."""
    from study.kit import make_checkpoint, make_stimuli

    checkpoint = make_checkpoint(tmp_path / "ckpt")
    stimuli = make_stimuli(tmp_path / "stimuli")
    done = subprocess.run(
        [sys.executable, "-m", "study_app.cli", "precompute", "--checkpoint", str(checkpoint), "--images",
         str(stimuli), "--methods", "gradcam", "--limit", "4", "--cache", str(tmp_path / "cache"), "--device", "cpu"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr
    progress_lines = [line for line in done.stderr.splitlines() if line.startswith("precompute: ")]
    assert 1 <= len(progress_lines) <= 4, done.stderr  # milestones only if it ran over 10 s, then "done"
    assert progress_lines[-1].startswith("precompute: done: 4/4 map in "), done.stderr
