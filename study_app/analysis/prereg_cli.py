"""``xai-study prereg``: an AsPredicted-style pre-registration from the study file, in Markdown and HTML.

    xai-study prereg --study examples/studies/verification.toml                # -> examples/studies/prereg/
    xai-study prereg --study study.toml --out prereg/ --effect acc:0.60,0.70

Writes ``prereg.md``, ``prereg.html``, the analysis scripts (``analysis.R``, ``analysis.py``) and ``prereg.json``,
the lock: the study file's SHA-256, a hash per top-level table and the scripts' SHA-256. ``xai-study check`` and
``xai-study export`` compare the study file with it and name what changed. The default folder is ``prereg/``
beside the study file, where they look for it. What each section holds: :mod:`study_app.analysis.prereg`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from study_app.analysis.prereg import (
    design_blocks,
    exclusion_blocks,
    header_blocks,
    hypothesis_blocks,
    measure_blocks,
    protocol_blocks,
    script_blocks,
    selection_blocks,
)
from study_app.analysis.prereg_lock import lock_record, write_lock
from study_app.analysis.prereg_power import DEFAULT_EFFECT, compute_power, power_blocks
from study_app.analysis.prereg_render import h, p, to_html, to_markdown
from study_app.analysis.scripts import plan_from_study, write_scripts
from study_app.study.study_file import parse_study_file, read_study_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", required=True, help="study file (TOML)")
    parser.add_argument("--out", help="folder for prereg.md/.html/.json and the scripts (default: prereg/ beside "
                                      "the study file, where check and export look for the lock)")
    parser.add_argument("--effect", help=f"effect for the sample size, as xai-study power takes it (default: "
                                         f"{DEFAULT_EFFECT}, stated in the document as an assumption)")
    parser.add_argument("--baseline", type=float, help="reference arm's accuracy for diff:/or:/h: effects")
    parser.add_argument("--sims", type=int, default=1000, help="simulated studies per N for the power (1000)")
    parser.add_argument("--no-power", action="store_true", help="leave the sample size to the researcher")


def model_lines(study_path: Path) -> list[str]:
    """The models the scripts fit, per task (as ``xai-study analysis-script`` prints them)."""
    lines = []
    for task in plan_from_study(study_path).tasks:
        models = [f"{task.outcome} ~ arm * ai_correct + (1 | participant) + (1 | image)"] if task.outcome else []
        if task.reliance:
            models.append("agree ~ arm + (1 | participant) + (1 | image) on AI-wrong and on AI-right trials"
                          + (" and switching" if task.reliance == "answer_with_advice" else ""))
        models += [f"{item} ~ arm (cumulative link)" for item in task.likert]
        models += ["effect ~ method (cumulative link)"] if task.effect_keys else []
        lines.append(f"task {task.name} ({task.protocol}, reference arm {task.reference}): "
                     f"{'; '.join(models) or 'no model'}")
    return lines


def write_prereg(study_path: str | Path, out_dir: str | Path | None = None, *, effect: str | None = None,
                 baseline: float | None = None, sims: int = 1000, power: bool = True) -> dict[str, Path]:
    """Write the pre-registration; returns ``{"md", "html", "json", "analysis.R", "analysis.py"}`` paths."""
    text = read_study_file(study_path)
    study = parse_study_file(text.path)
    out = Path(out_dir) if out_dir else text.path.parent / "prereg"
    out.mkdir(parents=True, exist_ok=True)
    r_path, py_path = write_scripts(text.path, out)
    scripts = {r_path.name: r_path, py_path.name: py_path}
    written_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    record = lock_record(text.path, scripts, written_at)
    if power:
        result = power_blocks(compute_power(text.path, effect or DEFAULT_EFFECT, baseline, sims=sims),
                              effect_is_default=effect is None)
    else:
        result = [h(2, "6. Sample size"), p("Not computed (--no-power): [to be filled by the researcher]")]
    blocks = [*header_blocks(study, text.sha256, text.path.name, written_at), *design_blocks(study),
              *protocol_blocks(study), *selection_blocks(study), *measure_blocks(study, text.data),
              *exclusion_blocks(study), *result, *script_blocks(record["scripts"], model_lines(text.path)),
              *hypothesis_blocks()]
    paths = {"md": out / "prereg.md", "html": out / "prereg.html"}
    paths["md"].write_text(to_markdown(blocks), encoding="utf-8")
    paths["html"].write_text(to_html(blocks, f"Pre-registration: {study.title}"), encoding="utf-8")
    paths["json"] = write_lock(out, record)
    return {**paths, **scripts}


def run(args: argparse.Namespace) -> int:
    try:
        paths = write_prereg(args.study, args.out, effect=args.effect, baseline=args.baseline, sims=args.sims,
                             power=not args.no_power)
    except (OSError, KeyError, ValueError) as exc:
        print(f"xai-study prereg: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {paths['md']}, {paths['html']} and the lock {paths['json']} (study and script SHA-256), with "
          f"{paths['analysis.R'].name} and {paths['analysis.py'].name}. Fill in the hypotheses (section 8) and the "
          "exclusions you will apply (section 5) before you register it.")
    return 0
