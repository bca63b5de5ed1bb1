"""Instructions: the study's own text, then a worked example of reading an explanation map.

The example uses a stimulus no participant is asked about (so it cannot prime a trial answer), preferably
one the model gets wrong, so the example shows how a map can expose a mistake. Without such an image the
example is given in words only. The study's comprehension questions, if any, close the page: the button
submits their answers (see :mod:`study_app.study.comprehension` for what a wrong one does).
"""

from __future__ import annotations

import streamlit as st

from study_app.ui import stimulus_view
from study_app.ui.explanation_maps import map_picture
from study_app.ui.language import _, current
from study_app.ui.question_widgets import ask_questions, clean_answers, missing_answers, submitted_answers
from study_app.ui.worked_example import pick_worked_example


def _example(engine) -> None:
    chosen = pick_worked_example(engine)
    st.subheader(_("A worked example"))
    if chosen is None:
        st.markdown(_(
            "You will see an image, what the model predicted, and a *map* over the image. The map highlights "
            "the regions that, according to the explanation, mattered most for the prediction. If the model "
            "is right for the wrong reason (for example, it looks at the background rather than the animal), "
            "the map can reveal it."
        ))
        return
    example = chosen.example
    stimulus_view.show_clinical_notice(example.trial)
    picture = map_picture(example.trial, example.method)
    pred = example.trial.prediction
    left, right = st.columns(2)
    with left:
        stimulus_view.show_picture(chosen.image_png, alt=_("Worked example: the image"), caption=_("The image"))
    with right:
        stimulus_view.show_picture(picture.png, alt=_("Worked example, {label}: {alt}").format(
            label=picture.label, alt=picture.alt), caption=picture.label)
    name = example.trial.class_label  # what participants read for each class
    facts = {"label": name(pred.label), "prob": current().percent(pred.prob), "truth": name(example.true_label)}
    verdict = (_("The model predicted **{label}** ({prob} sure), but the image shows **{truth}**: the model is "
                 "wrong.") if example.model_wrong else
               _("The model predicted **{label}** ({prob} sure), which is right.")).format(**facts)
    st.markdown(
        verdict + " " + _("Look at where the map is brightest: those are the regions the explanation says drove "
                          "the prediction. If they are not on the object itself, the model may be relying on the "
                          "wrong cues — this is how an explanation can expose a mistake, or make a right answer "
                          "less trustworthy.")
    )


def _collect(questions, scope: str):
    """The comprehension answers (none without questions), or what is still missing."""
    answers = submitted_answers(questions, scope=scope)
    missing = missing_answers(questions, answers)
    return (None, missing) if missing else (clean_answers(questions, answers), [])


def render(step, engine, submission) -> None:
    st.header(_("Instructions"))
    st.markdown(step.text)
    _example(engine)
    with st.form(f"form:{step.step_id}", border=False):
        if step.questions:  # the study's comprehension questions
            st.subheader(_("Check your understanding"))
            ask_questions(step.questions, scope=step.step_id)
        submission.button(_("I understand — begin"), lambda: _collect(step.questions, step.step_id),
                          key="instructions_begin")
