"""``xai-study power``: how many participants reach 80 % power for a stated difference between two arms.

    xai-study power --study examples/studies/verification.toml --effect acc:0.70,0.78
    xai-study power --trials 24 --arms human,ai,gradcam,placebo --within --ai-wrong-share 0.3 \\
        --effect acc:0.40,0.55 --effect-on ai_wrong --other-accuracy 0.85 --reference ai --treatment gradcam

What it reads from the study file (as TOML, so a file written for a protocol this version does not know
yet still works): ``design.type`` (within or between), the arms (``[[methods]]`` keys, or names where no
key is given; ``none`` when ``design.control``; ``<key>@random`` for ``design.negative_control``; a
task's or the design's ``arms`` list where one is given, as the ``decision`` protocol will), and of the
task (``--task``, else the first with a right answer: verification, forward_simulation, distinction,
decision) ``trials`` and ``ai_wrong_share`` (default 0.5 for verification and forward simulation,
whose items the engine balances half and half by the model's correctness; else 0). Every one of these
can be set or overridden on the command line; without ``--study``, ``--trials`` and ``--arms`` define
the design. The simulation and its test are described in :mod:`study_app.analysis.power`.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from study_app.analysis.power import (
    EFFECT_ON,
    Effect,
    PowerDesign,
    PowerRow,
    cohens_h,
    intercepts,
    p_from_h,
    p_from_odds_ratio,
    power_curve,
    smallest_n,
    two_proportion_power,
)

SCORED_PROTOCOLS = ("verification", "forward_simulation", "distinction", "decision")
BALANCED_BY_CORRECTNESS = ("verification", "forward_simulation")


def parse_effect(text: str, baseline: float | None) -> tuple[float, float]:
    """``acc:P0,P1`` | ``diff:D`` | ``or:R`` | ``h:H`` -> (reference accuracy, treatment accuracy).

    ``diff``, ``or`` and ``h`` (Cohen's h) are taken from ``baseline``, the reference arm's accuracy.
    """
    kind, _, value = text.partition(":")
    try:
        if kind == "acc":
            p0, p1 = (float(v) for v in value.split(","))
            return p0, p1
        number = float(value)
    except ValueError as exc:
        raise ValueError(f"cannot read effect {text!r}: {exc}") from None
    if kind not in ("diff", "or", "h"):
        raise ValueError(f"effect {text!r}: use acc:P0,P1, diff:D, or:R or h:H")
    if baseline is None:
        raise ValueError(f"effect {kind}: needs --baseline (the reference arm's accuracy)")
    p1 = {"diff": lambda: baseline + number, "or": lambda: p_from_odds_ratio(baseline, number),
          "h": lambda: p_from_h(baseline, number)}[kind]()
    return baseline, p1


def _arms_from(data: dict, task: dict) -> list[str]:
    explicit = task.get("arms") or data.get("design", {}).get("arms")
    if explicit:
        return [a if isinstance(a, str) else a.get("key") or a.get("name") for a in explicit]
    arms = [m.get("key") or m["name"] for m in data.get("methods", [])]
    design = data.get("design", {})
    if design.get("negative_control"):
        arms.append(f"{design['negative_control']}@random")
    if design.get("control"):
        arms.append("none")
    return arms


def design_from_study(path: str | Path, task_name: str | None = None) -> dict:
    """The fields :class:`PowerDesign` needs, read from a study file (see the module docstring)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    tasks = data.get("tasks", [])
    if task_name:
        task = next((t for t in tasks if t.get("name") == task_name), None)
        if task is None:
            raise ValueError(f"{path}: no task {task_name!r} (tasks: {', '.join(t.get('name', '?') for t in tasks)})")
    else:
        task = next((t for t in tasks if t.get("protocol") in SCORED_PROTOCOLS), None)
        if task is None:
            raise ValueError(f"{path}: no task with a right answer ({', '.join(SCORED_PROTOCOLS)}); "
                             "pass --task or define the design with --trials and --arms")
    protocol = task.get("protocol")
    share = task.get("ai_wrong_share", 0.5 if protocol in BALANCED_BY_CORRECTNESS else 0.0)
    return {"trials": task.get("trials"), "arms": _arms_from(data, task), "ai_wrong_share": share,
            "within": data.get("design", {}).get("type", "within") == "within", "task": task.get("name"),
            "protocol": protocol}


def _default_pair(arms: list[str]) -> tuple[str, str]:
    reference = next((a for a in ("none", "human", "ai") if a in arms), arms[0])
    return reference, next(a for a in arms if a != reference)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", help="study file (TOML); optional when --trials and --arms are given")
    parser.add_argument("--task", help="task of the study file (default: the first with a right answer)")
    parser.add_argument("--effect", required=True,
                        help="acc:P0,P1 (accuracy in reference and treatment arm), diff:D, or:R or h:H "
                             "(Cohen's h), the last three from --baseline")
    parser.add_argument("--baseline", type=float, help="reference arm's accuracy for diff/or/h")
    parser.add_argument("--effect-on", choices=EFFECT_ON, default="all",
                        help="trials the stated accuracies refer to (ai_wrong: the over-reliance hypothesis)")
    parser.add_argument("--other-accuracy", type=float,
                        help="accuracy on the other trials, both arms (with --effect-on ai_wrong/ai_right)")
    parser.add_argument("--ai-wrong-logit", type=float, default=0.0,
                        help="with --effect-on all: how much harder AI-wrong trials are, in log-odds")
    g = parser.add_argument_group("design (defines it, or overrides the study file)")
    g.add_argument("--trials", type=int, help="scored trials per participant, all arms together")
    g.add_argument("--arms", help="comma-separated arm names, e.g. human,ai,gradcam,placebo")
    g.add_argument("--ai-wrong-share", type=float, help="share of trials on which the AI is wrong")
    kind = g.add_mutually_exclusive_group()
    kind.add_argument("--within", dest="within", action="store_true", default=None,
                      help="every participant sees every arm")
    kind.add_argument("--between", dest="within", action="store_false", help="one arm per participant")
    g.add_argument("--images", type=int, help="stimulus pool (default: = trials, everyone sees the same items)")
    g.add_argument("--reference", help="arm compared against (default: none, human or ai if present)")
    g.add_argument("--treatment", help="arm whose effect is stated (default: the first other arm)")
    g.add_argument("--sd-participant", type=float, default=0.5, help="participant intercept SD, logit (0.5)")
    g.add_argument("--sd-image", type=float, default=0.5, help="image intercept SD, logit (0.5)")
    s = parser.add_argument_group("simulation")
    s.add_argument("--target", type=float, default=0.8, help="power to reach (0.8)")
    s.add_argument("--alpha", type=float, default=0.05, help="two-sided level (0.05)")
    s.add_argument("--sims", type=int, default=1000, help="simulated studies per N (1000)")
    s.add_argument("--n", help="comma-separated N (participants in all) instead of the automatic search")
    s.add_argument("--n-max", type=int, default=2000, help="largest N the search tries (2000)")
    s.add_argument("--seed", type=int, default=0)


def build(args: argparse.Namespace) -> tuple[PowerDesign, Effect, dict]:
    fields: dict = {"within": True, "ai_wrong_share": 0.0}
    if args.study:
        fields.update(design_from_study(args.study, args.task))
    for name in ("trials", "ai_wrong_share", "within"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    if args.arms:
        fields["arms"] = [a.strip() for a in args.arms.split(",") if a.strip()]
    if not fields.get("trials") or len(fields.get("arms") or []) < 2:
        raise ValueError("need trials and at least two arms: give --study, or --trials and --arms")
    reference, treatment = _default_pair(fields["arms"])
    design = PowerDesign(trials=fields["trials"], arms=tuple(fields["arms"]), within=fields["within"],
                         reference=args.reference or reference, treatment=args.treatment or treatment,
                         ai_wrong_share=fields["ai_wrong_share"], n_images=args.images,
                         sd_participant=args.sd_participant, sd_image=args.sd_image)
    p0, p1 = parse_effect(args.effect, args.baseline)
    effect = Effect(p0, p1, on=args.effect_on, other_accuracy=args.other_accuracy, ai_wrong_logit=args.ai_wrong_logit)
    return design, effect, fields


def _print_row(row: PowerRow) -> None:
    print(f"{row.n_participants:>8} {row.n_per_arm:>8} {row.power:>7.3f}  ±{1.96 * row.mc_se:.3f}"
          f" {row.seconds:>7.1f}s", flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        design, effect, fields = build(args)
    except (ValueError, OSError, tomllib.TOMLDecodeError) as exc:
        print(f"xai-study power: {exc}", file=sys.stderr)
        return 2
    a = intercepts(design, effect)
    where = f"{args.study} task {fields.get('task')} ({fields.get('protocol')})" if args.study else "command line"
    print(f"design from {where}: {'within' if design.within else 'between'} subjects, arms "
          f"{', '.join(design.arms)}; {design.trials} trials per participant ({design.trials_per_arm} per arm, "
          f"{design.wrong_per_arm} of them AI-wrong); {design.n_images or design.trials} images")
    print(f"effect: accuracy {effect.p_reference:.3f} ({design.reference}) vs {effect.p_treatment:.3f} "
          f"({design.treatment}) on {effect.on} trials; Cohen's h = {cohens_h(effect.p_treatment, effect.p_reference):.3f}; "
          f"random-intercept SDs {design.sd_participant} (participant), {design.sd_image} (image); "
          f"logit intercepts AI-right {a[0, 0]:.2f} -> {a[1, 0]:.2f}, AI-wrong {a[0, 1]:.2f} -> {a[1, 1]:.2f}")
    print(f"test: {'paired' if design.within else 'Welch'} t-test on participant accuracies, alpha {args.alpha}, "
          f"{args.sims} simulated studies per N; ± is the 95 % Monte-Carlo margin", flush=True)
    print(f"{'N':>8} {'per arm':>8} {'power':>7}  {'±MC':>6} {'time':>8}", flush=True)
    grid = [int(n) for n in args.n.split(",")] if args.n else None
    try:
        rows = power_curve(design, effect, target=args.target, n_grid=grid, n_max=args.n_max, n_sims=args.sims,
                           alpha=args.alpha, seed=args.seed, progress=_print_row)
    except ValueError as exc:
        print(f"xai-study power: {exc}", file=sys.stderr)
        return 2
    print("sorted:")
    for row in rows:
        _print_row(row)
    n = smallest_n(rows, args.target)
    if n is None:
        print(f"power {args.target:.0%} not reached up to N = {max(r.n_participants for r in rows)}")
        return 1
    row = next(r for r in rows if r.n_participants == n)
    trials = row.n_per_arm * (design.trials_per_arm if effect.on == "all" else
                              design.wrong_per_arm if effect.on == "ai_wrong" else
                              design.trials_per_arm - design.wrong_per_arm)
    naive = two_proportion_power(effect.p_reference, effect.p_treatment, trials, trials, args.alpha)
    print(f"N = {n} participants ({row.n_per_arm} {'each seeing every arm' if design.within else 'per arm'}) "
          f"reach {row.power:.0%} power (target {args.target:.0%}). For comparison, treating the {trials} trials "
          f"per arm as independent (two-proportion z-test, Cohen's h) would claim {naive:.0%}.")
    return 0
