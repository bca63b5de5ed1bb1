"""An AsPredicted-style pre-registration written from the study file (``xai-study prereg``).

Every section except the hypotheses is read from the study and the code that runs it, never typed by hand: the
design and arms (:func:`study_app.study.design.condition_labels`), what each protocol asks and scores
(:data:`study_app.study.protocols.PROTOCOLS`), the trial selection, the measures with their definitions (accuracy,
Likert items, the reliance measures of :mod:`study_app.analysis.reliance` and
:mod:`study_app.analysis.reliance_arms`, the validated instruments the questionnaires name), the exclusion rules
the study enforces, saying which are flags only (:mod:`study_app.study.quality`,
:mod:`study_app.study.screening`), the sample size (:mod:`study_app.analysis.prereg_power`) and the SHA-256 of
the study file and of the analysis scripts (:func:`study_app.analysis.scripts.write_scripts`). The researcher
fills only the hypotheses.
"""

from __future__ import annotations

from pathlib import Path

from study_app.analysis.instrument_scores import uses_in_study_file
from study_app.analysis.prereg_render import Block, h, p, table, ul
from study_app.analysis.reliance_arms import measure_definitions
from study_app.explain.panels import described_params
from study_app.study.design import condition_labels
from study_app.study.instruments import get_instrument
from study_app.study.protocols import PROTOCOLS
from study_app.study.schema import Study, TaskConfig

HYPOTHESIS_PLACEHOLDER = "[to be filled by the researcher]"


def _definitions_table() -> Block:
    definitions = measure_definitions(with_scope=True)
    return table(tuple(definitions.columns), list(definitions.itertuples(index=False, name=None)))


def task_arms(study: Study, task: TaskConfig) -> tuple[str, ...]:
    """The arms a task's trials are shown in: a decision task's own list, else the study's methods (+ control)."""
    return study.task_arms(task)


def design_blocks(study: Study) -> list[Block]:
    labels = condition_labels(study)
    kind = ("within subjects: every participant sees every arm; arms rotate over items in a cyclic Latin square "
            "(one row per condition)" if study.design.type == "within" else
            "between subjects: each participant sees one arm (per arm list)")
    assign = ("Assignment: a newcomer gets the least-filled condition, counting only participants who completed "
              "or are still active (pilots and screened-out participants free their slot).")
    base = Path(study.source).resolve().parent if study.source else None
    methods = [(m.key, m.name, m.label, ", ".join(f"{k}={v}" for k, v in described_params(m.params, base).items())
                or "defaults", "yes" if m.randomized_model else "no") for m in study.methods]
    blocks = [h(2, "1. Design"), p(f"Design: {kind}."), p(f"Conditions ({len(labels)}): {', '.join(labels)}."),
              p(assign), h(3, "Explanation methods"),
              table(("key", "method", "label shown", "parameters", "weight-randomised model"), methods)]
    if study.design.control:
        blocks.append(p("A no-explanation control arm (none) is part of the design."))
    if study.design.negative_control:
        blocks.append(p(f"Negative control: {study.design.negative_control} on a weight-randomised model."))
    if study.blind_method_names:
        blocks.append(p("Method names are blinded: participants read 'Explanation A', 'B', ..."))
    blocks.append(p(f"Maps are drawn in the colour scheme {study.map_colours!r} ([study] map_colours; recorded per trial "
                    "in the export's map_colours column)."))
    blocks.append(h(3, "Arms per task"))
    blocks.append(table(("task", "protocol", "arms"),
                        [(t.name, t.protocol, ", ".join(task_arms(study, t))) for t in study.tasks]))
    return blocks


def protocol_blocks(study: Study) -> list[Block]:
    blocks = [h(2, "2. What participants do (protocols)")]
    for name in dict.fromkeys(t.protocol for t in study.tasks):
        proto = PROTOCOLS[name]
        score_doc = (type(proto).score.__doc__ or "").strip().splitlines()[0] if proto.outcome else ""
        rows = [(phase, prompt) for phase, prompt in proto.prompts.items()]
        blocks += [h(3, f"Protocol {name}"), table(("phase", "prompt (English source text)"), rows),
                   ul([f"outcome: {proto.outcome or 'none (no right answer)'}" + (f": {score_doc}" if score_doc else ""),
                       f"Likert items per trial: {', '.join(proto.likert) or 'none'}",
                       f"reliance kind: {proto.reliance or 'none (no reliance measures)'}"])]
    return blocks


def _selection(task: TaskConfig) -> list[str]:
    proto = PROTOCOLS[task.protocol]
    lines = [f"trials per participant (the task's trials): {task.trials}",
             f"attention checks: {task.attention_checks}",
             f"answer scale: {task.scale[0]}..{task.scale[1]}"]
    if task.learning_trials:
        lines.append(f"learning trials: {task.learning_trials}")
    if "k" in proto.fields:
        lines.append(f"candidate classes per trial (k): {task.k}")
    if proto.balance_by_correctness:
        lines.append("items: the same for every participant, fixed by the study seed, balanced half and half by "
                     "the model's correctness where the stimuli allow")
    d = task.decision
    if d is not None:
        lines += [f"AI-wrong share: {d.ai_wrong_share:g} ({d.n_wrong(task.trials)} of {task.trials} trials per "
                  "participant, drawn per participant by the model's correctness)",
                  f"minimum AI confidence of an eligible stimulus: {d.min_ai_confidence:g}",
                  f"variant: {d.variant}; advice on request: {'yes' if d.advice_on_request else 'no'}"]
        if d.placebo_method:
            lines.append(f"placebo: {d.placebo_method} maps from source {d.placebo_source}")
    lines.append(f"true label shown: {'yes' if task.show_true_label else 'no'}")
    return lines


def selection_blocks(study: Study) -> list[Block]:
    blocks = [h(2, "3. Trial selection"), p(f"Study seed: {study.seed} (fixes item selection; each participant's "
                                            "order comes from their own stored seed).")]
    for task in study.tasks:
        blocks += [h(3, f"Task {task.name} ({task.protocol})"), ul(_selection(task))]
    return blocks


def _questionnaire_rows(study: Study) -> list[tuple[str, ...]]:
    rows = []
    for section, questions in (("pre", study.pre_questionnaire), ("post", study.post_questionnaire)):
        for q in questions:
            scale = f"{q.low}..{q.high}" if q.kind in ("likert", "number") else "; ".join(q.options)
            rows.append((f"{section}_{q.id}", q.kind, q.text, scale))
    return rows


def _instrument_blocks(data: dict) -> list[Block]:
    uses = uses_in_study_file(data)
    if not uses:
        return [p("Validated instruments: none named in the questionnaires.")]
    rows = []
    for use in uses:
        inst = get_instrument(use.instrument)
        subscales = "; ".join(f"{s.name}: {s.rule} of {', '.join(s.keys)}" for s in inst.subscales)
        rows.append((use.instrument, use.section, inst.title, f"{len(inst.items)} items, {inst.low}..{inst.high}; "
                     f"reverse-coded: {', '.join(inst.reverse_keys) or 'none'}", subscales, inst.scoring,
                     inst.citation, inst.missing))
    return [h(3, "Validated instruments"),
            table(("instrument", "questionnaire", "scale", "items", "subscales", "scoring", "citation",
                   "missing items"), rows),
            p("Scores per participant as published (study_app.study.instruments.score_instrument); internal "
              "consistency: Cronbach's alpha with Feldt's 95 % interval; mean per arm with Student's t interval.")]


def measure_blocks(study: Study, data: dict) -> list[Block]:
    scored = [t for t in study.tasks if PROTOCOLS[t.protocol].outcome]
    likert = [(t.name, item, f"{t.scale[0]}..{t.scale[1]}") for t in study.tasks
              for item in PROTOCOLS[t.protocol].likert]
    blocks = [h(2, "4. Measures"), h(3, "Accuracy")]
    blocks.append(p("accuracy: share of a participant's scored trials (attention checks excluded) whose outcome "
                    "'correct' is true, as the protocol scores it (section 2); tasks: "
                    f"{', '.join(t.name for t in scored) or 'none (no task has a right answer)'}."))
    blocks += [h(3, "Likert items per trial"), table(("task", "item", "scale"), likert) if likert else
               p("none")]
    reliance = [t.name for t in study.tasks if PROTOCOLS[t.protocol].reliance]
    if reliance:
        blocks += [h(3, "Reliance measures"),
                   p(f"Tasks: {', '.join(reliance)}. Verification tasks give those that need no initial answer "
                     "(agreement, over- and under-reliance, accuracy, times): a scope of has_initial, "
                     "advised_initial, on_request or requested is undefined there. A participant with no eligible trial "
                     "for a measure gets no value and is left out of the arm's mean (the scripts' default "
                     "EMPTY_DENOMINATOR = exclude)."),
                   _definitions_table()]
    rows = _questionnaire_rows(study)
    blocks += [h(3, "Questionnaire items"), table(("export column", "kind", "text", "scale / options"), rows)
               if rows else p("none")]
    return blocks + _instrument_blocks(data)


def exclusion_blocks(study: Study) -> list[Block]:
    """The rules as the code applies them: what ends a participation, and what is only flagged."""
    checks = sum(t.attention_checks for t in study.tasks)
    enforced = []
    if study.screen_out_after is not None:
        enforced.append(f"screen-out: the study ends for a participant at their {study.screen_out_after}. failed "
                        "check (failed attention checks and wrong comprehension answers count together); they see "
                        "the screened-out page, their answers stay in the export (status screened_out) and their "
                        "slot returns to the assignment pool")
    else:
        enforced.append("screen-out: not set (screen_out_after); no participant is ended for failed checks")
    if study.comprehension:
        enforced.append(f"comprehension: {len(study.comprehension)} question(s) under the instructions; after a "
                        f"wrong answer the instructions are shown again up to {study.comprehension_retries} "
                        "time(s) before the answers count")
    enforced.append("pilot runs (the researcher's pilot link) are left out of the export unless asked for")
    if study.require_prolific_id:
        enforced.append("only visitors whose link carries a usable PROLIFIC_PID may start")
    fast = (f"answers faster than {study.min_trial_seconds:g} s (min_trial_seconds) are flagged too_fast"
            if study.min_trial_seconds is not None else "too fast: no min_trial_seconds set, nothing flagged")
    flags = [f"failed attention checks ({checks} per participant in all): flagged (failed_attention_checks, "
             "quality flag attention)", fast, "wrong comprehension answers: flagged (failed_comprehension)",
             "straight-lining (the same value on every Likert item, at least 5 items): flagged",
             "page hidden or window unfocused for 10 s or more in all: flagged away"]
    return [h(2, "5. Exclusion rules"), p("Enforced by the study while it runs:"), ul(enforced),
            p("Flags only: the export carries these columns, nobody is excluded by them; the analysis scripts "
              "analyse every exported participant (they leave out only the attention-check trials "
              "themselves). Any exclusion on them is the researcher's decision, stated here:"),
            ul(flags), p(f"Exclusions applied in the analysis: {HYPOTHESIS_PLACEHOLDER}")]


def script_blocks(script_hashes: dict[str, str], models: list[str]) -> list[Block]:
    return [h(2, "7. Analysis"), p("The analysis scripts written with this pre-registration (xai-study "
                                   "analysis-script; both read responses.csv from xai-study export):"),
            table(("file", "SHA-256"), sorted(script_hashes.items())), p("Models they fit:"), ul(models)]


def hypothesis_blocks() -> list[Block]:
    return [h(2, "8. Hypotheses"),
            p("Main question and hypotheses (which arms are compared, on which measure, in which direction): "
              f"{HYPOTHESIS_PLACEHOLDER}"),
            p(f"Secondary analyses and anything else pre-registered: {HYPOTHESIS_PLACEHOLDER}")]


def header_blocks(study: Study, study_sha256: str, study_file: str, written_at: str) -> list[Block]:
    return [h(1, f"Pre-registration: {study.title}"),
            ul([f"study id: {study.id}", f"study file: {study_file}", f"study file SHA-256: {study_sha256}",
                f"written: {written_at} by xai-study prereg", f"participant language: {study.language}"]),
            p("Everything but the hypotheses is written from the study file and the code that runs it. The lock "
              "(prereg.json beside this document) holds the study file's and the scripts' SHA-256; xai-study check "
              "and xai-study export report any deviation from it.")]
