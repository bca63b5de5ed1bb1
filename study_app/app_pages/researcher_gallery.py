"""Gallery: every stimulus with every method's map, the prediction, the faithfulness scores and, for sampled
maps (LIME, Kernel SHAP), how converged they are (:func:`study_app.maps.cache_audit.convergence_note`).

Shows what the cache holds and never computes (a missing map is listed as such; precompute fills it), so
checking a large study does not slow the server down for participants.
"""

import streamlit as st

from study_app.explain.surrogates import CONVERGED_SPLIT_HALF
from study_app.maps.cache_audit import convergence_note
from study_app.maps.coverage import map_request
from study_app.ui import stimulus_view
from study_app.ui.explanation_maps import (
    cached_picture,
    compute_faithfulness,
    convergence_record,
    faithfulness_scores,
    panel_quality,
)
from study_app.ui.researcher_frame import researcher_page
from study_app.ui.resources import checkpoint_input_size

PER_PAGE = 6

engine = researcher_page("Gallery")
if engine is not None:
    study = engine.study
    task = study.tasks[0]
    if len(study.tasks) > 1:
        task = study.task(st.selectbox("Task", [t.name for t in study.tasks], key="gallery_task"))
    methods = list(study.task_methods(task))
    task_predictions = engine.predictions[task.name]
    preds = task_predictions.by_image
    stimuli = list(task.stimuli)
    only_wrong = st.toggle("Only images the model gets wrong", key="gallery_only_wrong")
    if only_wrong:
        stimuli = [s for s in stimuli if not preds[s.image_id].correct]
    pages = max(1, -(-len(stimuli) // PER_PAGE))
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, key="gallery_page")
    size = checkpoint_input_size(task.checkpoint)
    st.caption(f"{len(stimuli)} images × {len(methods)} methods; task protocol: {task.protocol}. Faithfulness: "
               "deletion/insertion AUC (Petsiuk et al. 2018), infidelity, max-sensitivity and the model-"
               "randomisation rank correlation (Adebayo et al. 2018), where computed. Convergence of sampled maps "
               "(LIME, Kernel SHAP): the Spearman rank correlation over pixels between the maps fitted on two "
               f"disjoint halves of the map's samples (split-half ρ); below {CONVERGED_SPLIT_HALF:.2f} a map is "
               "marked as not converged (raise its method's n_samples). Panels carry their own figures: similar "
               "examples the share of examples labelled as the prediction (label agreement) and their mean "
               "similarity; concepts their TCAV scores and p-values (Kim et al. 2018).")
    shown_stimuli = stimuli[(page - 1) * PER_PAGE: page * PER_PAGE]
    if st.button("Compute missing faithfulness scores for this page", key="gallery_faithfulness"):
        with st.spinner("Computing faithfulness (several extra attributions per map)…"):
            for stim in shown_stimuli:
                for method in methods:
                    request = map_request(task, stim, method, task_predictions)
                    if cached_picture(request) is not None:
                        compute_faithfulness(request)
    for stim in shown_stimuli:
        pred = preds[stim.image_id]
        with st.container(border=True):
            verdict = "right" if pred.correct else "WRONG"
            st.markdown(f"`{stim.image_id}` — true **{stim.label}**, predicted **{pred.label}** "
                        f"({pred.prob:.1%}, model {verdict})")
            cols = st.columns(len(methods) + 1)
            with cols[0]:
                stimulus_view.show_picture(stimulus_view.stimulus_png(stim.path, size), alt=f"Stimulus {stim.image_id}",
                                           caption="image")
            for col, method in zip(cols[1:], methods, strict=True):
                with col:
                    request = map_request(task, stim, method, task_predictions)
                    picture = cached_picture(request)
                    if picture is None:
                        st.warning(f"{method.label}: not cached", icon=":material/hourglass_empty:")
                        continue
                    stimulus_view.show_picture(picture.png, alt=f"{method.label}: {picture.alt}", caption=method.label)
                    if picture.panel:  # similar examples, prediction grid, concepts: their own quality figures
                        quality = panel_quality(request) or {}
                        st.caption(" · ".join(f"{k.replace('_', ' ')} {v:.3f}" if isinstance(v, float)
                                              else f"{k.replace('_', ' ')} {v}" for k, v in quality.items()
                                              if v not in (None, "")) or "no quality figure for this kind")
                        continue
                    scores = faithfulness_scores(request)
                    st.caption(" · ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                          for k, v in scores.items()) if scores else "faithfulness not computed")
                    note = convergence_note(convergence_record(request))
                    if note is not None and note.converged:
                        st.caption(note.text)
                    elif note is not None:
                        st.warning(note.text, icon=":material/warning:")
