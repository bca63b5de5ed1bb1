"""Wall time of the generated analysis scripts on a simulated decision study.

    python benchmarks/analysis_runtime.py                  # 240 participants, 3 runs per script
    python benchmarks/analysis_runtime.py --participants 60 240 480 --runs 1

The export is tests/analysis/simulated_decision.py's (within subjects, four arms, 16 trials per participant:
3,840 scored trials at 240 participants). Each script runs as a researcher runs it (``python analysis.py``,
``Rscript analysis.R``), start-up and imports included, and fits five models: accuracy, agreement on AI-wrong
and AI-right trials, switching (logistic mixed models) and the final confidence (ordinal). Prints the median
and range of the wall times per script and participant count.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from analysis.simulated_decision import STUDY_TOML, simulate  # noqa: E402  (the tests' simulator)

from study_app.analysis.scripts import write_scripts  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, nargs="+", default=[240])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    commands = {"python": [sys.executable, "analysis.py"]}
    if shutil.which("Rscript"):
        commands["R"] = ["Rscript", "analysis.R"]
    else:
        print("Rscript not found: timing analysis.py only")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "study.toml").write_text(STUDY_TOML, encoding="utf-8")
        write_scripts(folder / "study.toml", folder)
        for n in args.participants:
            simulate(folder / f"r{n}.csv", n, seed=n)
            for language, command in commands.items():
                times = []
                for run in range(args.runs):
                    start = time.perf_counter()
                    done = subprocess.run([*command, f"r{n}.csv", f"out_{language}_{n}_{run}"], cwd=folder,
                                          capture_output=True, text=True)
                    times.append(time.perf_counter() - start)
                    if done.returncode != 0:
                        print(done.stderr[-2000:])
                        return 1
                print(f"{language:>6}  {n:4d} participants ({16 * n} trials): median {statistics.median(times):.1f} s "
                      f"(range {min(times):.1f}-{max(times):.1f} s, {args.runs} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
