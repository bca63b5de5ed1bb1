"""The pre-registration's sample size: ``xai-study power`` run on the study's first task with a right answer, with
the effect flags the researcher passes (``--effect``, ``--baseline``; stated in the document), through the power
command's own parser, :func:`~study_app.analysis.power_cli.build` and :func:`~study_app.analysis.power.power_curve`.
When it cannot be computed (no task with a right answer, an effect that needs a baseline, a pool the design cannot
draw from), the section says so and why instead of failing."""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import dataclass
from pathlib import Path

from study_app.analysis import power_cli
from study_app.analysis.power import power_curve, smallest_n
from study_app.analysis.prereg_render import Block, h, p, table, ul

DEFAULT_EFFECT = "acc:0.70,0.80"  # stated in the document as an assumption, not a pilot's estimate


@dataclass(frozen=True)
class PowerResult:
    """The sample size and how it was reached, or ``reason`` why none was computed."""

    command: str
    n: int | None = None
    power: float | None = None
    assumptions: tuple[str, ...] = ()
    rows: tuple[tuple[int, int, float, float], ...] = ()  # (N, tested, power, 95 % Monte-Carlo margin)
    reason: str = ""


def power_args(study: str | Path, effect: str, baseline: float | None, sims: int, seed: int = 0) -> list[str]:
    """The ``xai-study power`` command line the pre-registration runs (and prints, so anyone can rerun it)."""
    argv = ["--study", str(study), "--effect", effect, "--sims", str(sims), "--seed", str(seed)]
    return argv + (["--baseline", repr(baseline)] if baseline is not None else [])


def compute_power(study: str | Path, effect: str = DEFAULT_EFFECT, baseline: float | None = None, *,
                  sims: int = 1000, seed: int = 0) -> PowerResult:
    """Run the power simulation as ``xai-study power`` would; never raises for bad input (``reason`` says it)."""
    argv = power_args(study, effect, baseline, sims, seed)
    command = "xai-study power " + " ".join(argv)
    parser = argparse.ArgumentParser(prog="xai-study power")
    power_cli.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        setup = power_cli.build(args)
        rows = power_curve(setup.design, setup.effect, target=args.target, n_max=args.n_max or 2000,
                           n_sims=args.sims, alpha=args.alpha, seed=args.seed)
    except (ValueError, OSError, tomllib.TOMLDecodeError) as exc:
        return PowerResult(command, reason=str(exc))
    assumptions = tuple(power_cli.describe(setup, args))
    table_rows = tuple((r.n_participants, r.n_tested, r.power, 1.96 * r.mc_se) for r in rows)
    n = smallest_n(rows, args.target)
    if n is None:
        return PowerResult(command, assumptions=assumptions, rows=table_rows,
                           reason=f"power {args.target:.0%} not reached up to N = {max(r[0] for r in table_rows)}")
    row = next(r for r in rows if r.n_participants == n)
    return PowerResult(command, n, row.power, assumptions, table_rows)


def power_blocks(result: PowerResult, effect_is_default: bool) -> list[Block]:
    blocks = [h(2, "6. Sample size"), p(f"Computed with: {result.command}")]
    if effect_is_default:
        blocks.append(p(f"The effect {DEFAULT_EFFECT} is this command's default assumption, not an estimate from "
                        "a pilot or the literature: replace it with --effect (and --baseline) and write the "
                        "pre-registration again."))
    if result.assumptions:
        blocks += [p("Assumptions (as xai-study power states them):"), ul(result.assumptions)]
    if result.n is None:
        blocks.append(p(f"Sample size: not computed: {result.reason}. State the planned N and its justification: "
                        "[to be filled by the researcher]"))
    else:
        blocks.append(p(f"Planned sample: N = {result.n} participants who complete the study (power "
                        f"{result.power:.0%}, target 80 %, two-sided alpha 0.05). Participants who drop out or are "
                        "screened out free their slot, which the next newcomer takes."))
    if result.rows:
        blocks.append(table(("N", "tested", "power", "± 95 % MC"),
                            [(n, t, f"{pw:.3f}", f"{m:.3f}") for n, t, pw, m in sorted(result.rows)]))
    return blocks
