"""A trial: the picture, what the protocol lets the participant see, and the question.

Protocol and phase decide what is shown (:class:`study_app.study.TrialSpec` already leaves out what must
stay hidden, e.g. the prediction in forward simulation's test phase); the answer form comes from
:mod:`study_app.ui.trial_forms`. Image ids and paths are never shown: they contain class folder names.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from study_app.study.protocols import protocol_of
from study_app.study.steps import (
    DECISION,
    DISTINCTION,
    FORWARD_SIMULATION,
    PHASE_EXPLANATION,
    PHASE_FINAL,
    PHASE_INITIAL,
    PHASE_LEARN,
    PHASE_MAIN,
    PHASE_PREDICT,
    PHASE_TRUST,
    RATE,
    VERIFICATION,
)
from study_app.ui import decision_form, stimulus_view, trial_forms
from study_app.ui.explanation_maps import legend, trial_maps
from study_app.ui.language import _, current
from study_app.ui.resources import checkpoint_input_size


def _picture_png(trial) -> bytes:
    return stimulus_view.stimulus_png(trial.image_path, checkpoint_input_size(trial.checkpoint))


def _prediction(trial) -> None:
    if trial.prediction is None:
        return
    top = protocol_of(trial.protocol).shows_topk
    if top > 1:
        stimulus_view.show_prediction(trial.prediction, top=top, class_label=trial.class_label)
    else:
        st.markdown(_("The model predicts **{label}** ({prob} sure).").format(
            label=trial.class_label(trial.prediction.label), prob=current().percent(trial.prediction.prob)))


def _pictures(trial) -> None:
    """The image, and its maps beside it (one map) or in a row below it (several); Streamlit stacks
    columns on phone-width screens."""
    image = _picture_png(trial)
    pictures = trial_maps(trial)
    per_class = protocol_of(trial.protocol).maps_explain_options
    labels = [(trial.class_label(m.target) if per_class and m.target else p.label)
              for m, p in zip(trial.methods, pictures, strict=True)]
    maps = [(label, p.png, p.alt) for label, p in zip(labels, pictures, strict=True) if not p.panel]
    panels = [(label, p) for label, p in zip(labels, pictures, strict=True) if p.panel]
    if len(maps) == 1 and not panels:
        left, right = st.columns(2)
        with left:
            st.markdown("**" + _("The image") + "**")
            stimulus_view.show_picture(image, alt=_("The image the model classified"))
        with right:
            label, png, alt = maps[0]
            st.markdown(f"**{label}**")
            stimulus_view.show_picture(png, alt=f"{label}: {alt}")
    else:
        stimulus_view.show_picture(image, alt=_("The image the model classified"), caption=_("The image"),
                                   width=stimulus_view.PICTURE_WIDTH)
        if per_class and maps:
            st.markdown(_("Each map explains the evidence for one class:"))
        stimulus_view.show_maps(maps)
    if maps:
        st.caption(legend(trial, pictures))
    for label, panel in panels:  # full width: a row of photos or a chart would be unreadable in a column
        st.markdown(f"**{label}**")
        stimulus_view.show_picture(panel.png, alt=f"{label}: {panel.alt}")
        st.caption(panel.caption)


def _continue(step_id: str, trial, submission) -> None:
    trial_forms.continue_form(step_id, submission, _("Next"))


def _predict_model(step_id: str, trial, submission) -> None:
    trial_forms.choice_form(step_id, trial, _("What will the model predict for this image?"), submission)


def _name_prediction(step_id: str, trial, submission) -> None:
    trial_forms.choice_form(step_id, trial, _("Which class did the model predict?"), submission)


# (protocol, phase) -> the answer form: a new protocol adds its phases here.
FORMS = {
    (RATE, PHASE_TRUST): trial_forms.trust_form,
    (RATE, PHASE_EXPLANATION): trial_forms.effect_form,
    (VERIFICATION, PHASE_MAIN): trial_forms.verification_form,
    (FORWARD_SIMULATION, PHASE_LEARN): _continue,
    (FORWARD_SIMULATION, PHASE_PREDICT): _predict_model,
    (DISTINCTION, PHASE_MAIN): _name_prediction,
    (DECISION, PHASE_INITIAL): decision_form.decision_form,
    (DECISION, PHASE_FINAL): decision_form.decision_form,
}


def _advice_on_request(step_id: str, trial):
    """Decision: the participant's first answer above the advice, which waits for their request if it must."""
    decision_form.show_first_answer(trial)
    if not decision_form.advice_visible(step_id, trial):
        trial = replace(trial, prediction=None, methods=())
    return trial


# protocol -> what the page does before the prediction and maps (and may hide them until asked for)
BEFORE_ADVICE = {DECISION: _advice_on_request}


def render(step, submission) -> None:
    trial = step.trial
    st.subheader(_("Image {number} of {total}").format(number=trial.index + 1, total=trial.total))
    stimulus_view.show_clinical_notice(trial)
    if trial.is_attention_check and trial.attention_prompt:
        st.info(trial.attention_prompt, icon=":material/priority_high:")
    st.markdown(_(trial.prompt))  # one of the protocol's prompts (study.protocols)
    if trial.show_true_label and trial.true_label:
        st.markdown(_("The correct answer for this image is **{label}**.").format(
            label=trial.class_label(trial.true_label)))
    before = BEFORE_ADVICE.get(trial.protocol)
    if before is not None:
        trial = before(step.step_id, trial)
    _prediction(trial)
    _pictures(trial)
    FORMS[(trial.protocol, trial.phase)](step.step_id, trial, submission)
