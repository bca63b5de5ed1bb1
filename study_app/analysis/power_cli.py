"""``xai-study power``: how many participants reach 80 % power for a stated difference between two arms.

    xai-study power --study demo/study.toml --task mri-decision --effect acc:0.60,0.70
    xai-study power --trials 24 --arms human,ai,gradcam,placebo --within --ai-wrong-share 0.5 --images 12,40 \\
        --effect acc:0.40,0.55 --effect-on ai_wrong --other-accuracy 0.85 --reference ai --treatment gradcam

What it reads from the study file: for a ``decision`` task, the loaded task (trials, arms, design type,
``ai_wrong_share``) and its eligible pool, the stimuli whose advice is at least ``min_ai_confidence``
confident split into AI-wrong and AI-right by the model's predictions, computed as ``xai-study check`` does
(:mod:`study_app.analysis.power_decision`; the trials per arm are the engine's own draw). For the other
protocols, read as TOML (so a file written for a protocol this version does not know yet still works):
``design.type``, the arms (``[[methods]]`` keys, or names where no key is given; ``none`` when
``design.control``; ``<key>@random`` for ``design.negative_control``), and of the task (``--task``, else the
first with a right answer) ``trials`` and ``ai_wrong_share`` (default 0.5 for verification and forward
simulation, whose items the engine balances half and half by the model's correctness; else 0); every
participant sees the same ``trials`` items. The design flags override the file, and the output says which;
without ``--study`` they define a decision task's design (``--images`` then gives the pool, else it is
assumed as small as the trials). A flag that cannot apply is refused with the reason. The simulation and
its test are described in :mod:`study_app.analysis.power`.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from study_app.analysis.power import (
    EFFECT_ON,
    Effect,
    PowerDesign,
    PowerRow,
    cohens_h,
    compared_counts,
    intercepts,
    p_from_h,
    p_from_odds_ratio,
    power_curve,
    smallest_n,
    two_proportion_power,
)
from study_app.analysis.power_decision import decision_facts, decision_layout, describe_layout, n_wrong
from study_app.study.protocols import PROTOCOLS
from study_app.study.steps import DECISION
from study_app.study.study_file import file_arms, read_study_file

SCORED_PROTOCOLS = tuple(name for name, p in PROTOCOLS.items() if p.outcome)  # protocols with a right answer


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


def design_from_study(path: str | Path, task_name: str | None = None) -> dict:
    """The fields :class:`PowerDesign` needs, read from a study file (see the module docstring)."""
    data = read_study_file(path).data
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
    balanced = protocol in PROTOCOLS and PROTOCOLS[protocol].balance_by_correctness
    share = task.get("ai_wrong_share", 0.5 if balanced else 0.0)
    return {"trials": task.get("trials"), "arms": file_arms(data, task), "ai_wrong_share": share,
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
    parser.add_argument("--ai-wrong-logit", type=float,
                        help="with --effect-on all: how much harder AI-wrong trials are, in log-odds (0)")
    g = parser.add_argument_group("design (defines it, or overrides the study file, which the output then says)")
    g.add_argument("--trials", type=int, help="scored trials per participant, all arms together")
    g.add_argument("--arms", help="comma-separated arm names, e.g. human,ai,gradcam,placebo")
    g.add_argument("--ai-wrong-share", type=float, help="share of trials on which the AI is wrong")
    kind = g.add_mutually_exclusive_group()
    kind.add_argument("--within", dest="within", action="store_true", default=None,
                      help="every participant sees every arm")
    kind.add_argument("--between", dest="within", action="store_false", help="one arm per participant")
    g.add_argument("--images", help="stimulus pool: N (split by the AI-wrong share) or WRONG,RIGHT (AI-wrong and "
                                    "AI-right images); default: a decision task's eligible stimuli, counted "
                                    "from the model's predictions, else = trials")
    g.add_argument("--reference", help="arm compared against (default: none, human or ai if present)")
    g.add_argument("--treatment", help="arm whose effect is stated (default: the first other arm)")
    g.add_argument("--sd-participant", type=float, default=0.5, help="participant intercept SD, logit (0.5)")
    g.add_argument("--sd-image", type=float, default=0.5, help="image intercept SD, logit (0.5)")
    s = parser.add_argument_group("simulation")
    s.add_argument("--target", type=float, default=0.8, help="power to reach (0.8)")
    s.add_argument("--alpha", type=float, default=0.05, help="two-sided level (0.05)")
    s.add_argument("--sims", type=int, default=1000, help="simulated studies per N (1000)")
    s.add_argument("--n", help="comma-separated N (participants in all) instead of the automatic search")
    s.add_argument("--n-max", type=int, help="largest N the automatic search tries (2000)")
    s.add_argument("--seed", type=int, default=0)


@dataclass(frozen=True)
class Setup:
    """What :func:`build` decided: the design and effect, where they came from, and what the flags changed."""

    design: PowerDesign
    effect: Effect
    source: str
    notes: tuple[str, ...]
    pool: str
    layout_text: str


def _check_flags(args: argparse.Namespace) -> None:
    """Flags that cannot apply together, each refused with the reason."""
    if args.task and not args.study:
        raise ValueError("--task needs --study")
    if args.baseline is not None and args.effect.startswith("acc:"):
        raise ValueError("--baseline applies to diff:, or: and h: effects; acc:P0,P1 gives both accuracies")
    if args.effect_on == "all" and args.other_accuracy is not None:
        raise ValueError("--other-accuracy applies with --effect-on ai_wrong or ai_right: with all, --effect "
                         "gives the accuracy over all trials")
    if args.effect_on != "all" and args.other_accuracy is None:
        raise ValueError(f"--effect-on {args.effect_on} needs --other-accuracy (accuracy on the other trials, "
                         "both arms)")
    if args.effect_on != "all" and args.ai_wrong_logit is not None:
        raise ValueError(f"--ai-wrong-logit applies with --effect-on all: with {args.effect_on}, --effect and "
                         "--other-accuracy already give the accuracy on AI-wrong and AI-right trials")
    if args.n and args.n_max is not None:
        raise ValueError("--n-max limits the automatic search; with --n the grid is the N tried")
    for name, low, high in (("alpha", 0, 1), ("target", 0, 1)):
        if not low < getattr(args, name) < high:
            raise ValueError(f"--{name} must lie strictly between {low} and {high}")
    if args.sims < 1 or min(args.sd_participant, args.sd_image) < 0:
        raise ValueError("--sims must be at least 1 and the SDs at least 0")
    if args.trials is not None and args.trials < 1:
        raise ValueError("--trials must be at least 1")


def _parse_images(text: str | None) -> tuple[int | None, int | None, int | None]:
    """``--images`` as (total, AI-wrong, AI-right)."""
    if text is None:
        return None, None, None
    try:
        numbers = [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"--images {text!r}: give N or WRONG,RIGHT (whole numbers)") from None
    if len(numbers) not in (1, 2) or min(numbers) < 0 or sum(numbers) < 1:
        raise ValueError(f"--images {text!r}: give N or WRONG,RIGHT (whole numbers, at least one image)")
    return (numbers[0], None, None) if len(numbers) == 1 else (None, *numbers)


def _draws(protocol: str) -> bool:
    """Whether the protocol draws each participant's trials from a pool (by the AI's correctness)."""
    return protocol in PROTOCOLS and PROTOCOLS[protocol].draws_per_participant


def build(args: argparse.Namespace) -> Setup:
    """The design and effect from the study file and the flags (see the module docstring)."""
    _check_flags(args)
    fields: dict = {"within": True, "ai_wrong_share": 0.0, "protocol": DECISION}
    source, pool, notes = "command line (a decision task's draw)", "", []
    if args.study:
        fields.update(design_from_study(args.study, args.task))
        source = f"{args.study} task {fields['task']} ({fields['protocol']})"
    if args.study and _draws(fields["protocol"]):
        try:
            facts = decision_facts(args.study, fields["task"])
        except ValueError as exc:  # a study file the loader refuses: the TOML's fields, no pool
            pool = f"pool unknown: the study file does not load ({exc})"
        else:
            fields.update(trials=facts.trials, arms=list(facts.arms), within=facts.within,
                          ai_wrong_share=facts.ai_wrong_share, pool_wrong=facts.pool_wrong,
                          pool_right=facts.pool_right)
            pool = facts.pool_source
    for name, value in (("trials", args.trials), ("ai_wrong_share", args.ai_wrong_share), ("within", args.within)):
        if value is not None and args.study and value != fields.get(name):
            notes.append(f"--{'within' if value else 'between'} replaces the file's design.type "
                         f"{'within' if fields['within'] else 'between'}" if name == "within" else
                         f"--{name.replace('_', '-')} {value} replaces the file's {name} {fields.get(name)}")
        if value is not None:
            fields[name] = value
    if args.arms:
        arms = [a.strip() for a in args.arms.split(",") if a.strip()]
        if args.study and arms != fields.get("arms"):
            notes.append(f"--arms replaces the file's arms {', '.join(fields.get('arms') or [])}")
        fields["arms"] = arms
    if not fields.get("trials") or len(fields.get("arms") or []) < 2:
        raise ValueError("need trials and at least two arms: give --study, or --trials and --arms")
    if len(set(fields["arms"])) != len(fields["arms"]):
        raise ValueError(f"arms {', '.join(fields['arms'])} contain duplicates")
    n_images, pool_wrong, pool_right = _parse_images(args.images)
    if args.images and fields.get("pool_wrong") is not None:
        notes.append(f"--images {args.images} replaces the {fields['pool_wrong']} AI-wrong and "
                     f"{fields['pool_right']} AI-right eligible stimuli counted from the predictions")
    if args.images:
        fields.update(pool_wrong=pool_wrong, pool_right=pool_right)
    arms, trials, share, within = tuple(fields["arms"]), fields["trials"], fields["ai_wrong_share"], fields["within"]
    layout = decision_layout(arms, trials, share, within) if _draws(fields["protocol"]) else None
    reference, treatment = _default_pair(fields["arms"])
    design = PowerDesign(trials=trials, arms=arms, within=within, reference=args.reference or reference,
                         treatment=args.treatment or treatment, ai_wrong_share=share, layout=layout,
                         n_images=n_images, pool_wrong=fields.get("pool_wrong"), pool_right=fields.get("pool_right"),
                         sd_participant=args.sd_participant, sd_image=args.sd_image)
    have_wrong, have_right = design.pools()
    if layout is not None and (have_wrong < n_wrong(trials, share) or have_right < trials - n_wrong(trials, share)):
        raise ValueError(f"the pool cannot satisfy this design: {n_wrong(trials, share)} AI-wrong and "
                         f"{trials - n_wrong(trials, share)} AI-right trials per participant from {have_wrong} "
                         f"AI-wrong and {have_right} AI-right images (the engine would refuse to start; "
                         "--images sets another pool)")
    if args.images:
        pool = f"--images {args.images}"
    elif layout is None:
        pool = f"{trials} images, the same for every participant ({fields['protocol']} shows fixed items)"
    elif design.pool_wrong is None:  # the smallest pool the design allows: the safe side
        pool = (f"{pool or 'pool unknown'}; assumed as small as the trials allow (everyone sees the same "
                "images); give --images WRONG,RIGHT")
    p0, p1 = parse_effect(args.effect, args.baseline)
    effect = Effect(p0, p1, on=args.effect_on, other_accuracy=args.other_accuracy,
                    ai_wrong_logit=args.ai_wrong_logit or 0.0)
    if args.ai_wrong_logit and not design.cells()[..., 0].any():
        raise ValueError("--ai-wrong-logit has nothing to act on: the design has no AI-wrong trials")
    kinds = {"all": "", "ai_wrong": "an AI-wrong ", "ai_right": "an AI-right "}[effect.on]
    counts, _ = compared_counts(design, len(design.cells()) * 2, effect.on)
    if design.within and len(counts) == 0:
        raise ValueError(f"no participant gives both {design.reference} and {design.treatment} {kinds}trial in "
                         "this design: more trials, or another pair")
    layout_text = describe_layout(arms, design.cells(), within)
    return Setup(design, effect, source, tuple(notes), pool, layout_text)


def _print_row(row: PowerRow) -> None:
    print(f"{row.n_participants:>8} {row.n_tested:>8} {row.power:>7.3f}  ±{1.96 * row.mc_se:.3f}"
          f" {row.seconds:>7.1f}s", flush=True)


def describe(setup: Setup, args: argparse.Namespace) -> list[str]:
    """The lines that say what is simulated, before the table."""
    design, effect = setup.design, setup.effect
    share = design.cells()[0].sum(axis=0)
    lines = [f"design from {setup.source}: {'within' if design.within else 'between'} subjects, arms "
             f"{', '.join(design.arms)}; {design.trials} trials per participant, {share[0]} of them AI-wrong "
             f"(ai_wrong_share {design.ai_wrong_share:g}); {setup.layout_text}"]
    lines += [f"  {note}" for note in setup.notes]
    wrong, right = design.pools()
    lines.append(f"pool: {wrong} AI-wrong and {right} AI-right images: {setup.pool}")
    a = intercepts(design, effect)
    harder = f"AI-wrong trials {effect.ai_wrong_logit:+g} log-odds; " if effect.on == "all" else ""
    lines.append(f"effect: accuracy {effect.p_reference:.3f} ({design.reference}) vs {effect.p_treatment:.3f} "
                 f"({design.treatment}) on {effect.on} trials; Cohen's h = "
                 f"{cohens_h(effect.p_treatment, effect.p_reference):.3f}; {harder}random-intercept SDs "
                 f"{design.sd_participant} (participant), {design.sd_image} (image); logit intercepts AI-right "
                 f"{a[0, 0]:.2f} -> {a[1, 0]:.2f}, AI-wrong {a[0, 1]:.2f} -> {a[1, 1]:.2f}")
    n_cond = len(design.cells())
    counts, _ = compared_counts(design, n_cond, effect.on)
    who = (f"the participants with {effect.on.replace('_', '-')} trials in both arms ({len(counts)} of every "
           f"{n_cond})" if design.within and len(counts) < n_cond else "participant accuracies")
    lines.append(f"test: {'paired' if design.within else 'Welch'} t-test on {who}, alpha {args.alpha}, "
                 f"{args.sims} simulated studies per N; ± is the 95 % Monte-Carlo margin")
    return lines


def run(args: argparse.Namespace) -> int:
    try:
        setup = build(args)
        grid = [int(n) for n in args.n.split(",")] if args.n else None
    except (ValueError, OSError, tomllib.TOMLDecodeError) as exc:
        print(f"xai-study power: {exc}", file=sys.stderr)
        return 2
    design, effect = setup.design, setup.effect
    print("\n".join(describe(setup, args)), flush=True)
    print(f"{'N':>8} {'tested':>8} {'power':>7}  {'±MC':>6} {'time':>8}", flush=True)
    try:
        rows = power_curve(design, effect, target=args.target, n_grid=grid, n_max=args.n_max or 2000,
                           n_sims=args.sims, alpha=args.alpha, seed=args.seed, progress=_print_row)
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
    counts, treated = compared_counts(design, n, effect.on)
    looked_at = counts[:, :, {"all": [0, 1], "ai_wrong": [0], "ai_right": [1]}[effect.on]].sum(axis=2)
    n0, n1 = (looked_at[:, 0].sum(), looked_at[:, 1].sum()) if design.within else \
        (looked_at[~treated, 0].sum(), looked_at[treated, 1].sum())
    naive = two_proportion_power(effect.p_reference, effect.p_treatment, n0, n1, args.alpha)
    print(f"N = {n} participants ({row.n_tested} {'in the paired test' if design.within else 'in the smaller arm'})"
          f" reach {row.power:.0%} power (target {args.target:.0%}). For comparison, treating the {n0} and {n1} "
          f"tested trials of the two arms as independent (two-proportion z-test, Cohen's h) would claim {naive:.0%}.")
    return 0
