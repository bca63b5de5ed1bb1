"""Explanation engine: Captum methods, one visual language, faithfulness, precompute cache.

Knows nothing of Streamlit or the database. Public API (what the app and the study engine use):

Methods (:mod:`study_app.explain.methods`)
    ``METHODS``: registry name -> class (gradcam, integrated_gradients, lime, kernel_shap, occlusion,
    saliency, gradient_shap, smoothgrad, deeplift, guided_backprop).
    ``DEFAULT_TRIO = ("lime", "kernel_shap", "gradcam")``.
    ``get_method(name, **params) -> ExplanationMethod`` (``ValueError`` for unknown names/parameters).
    ``method.explain(model, x, target, *, normalization=(mean, std), segments=None)`` with ``x``
    1×3×H×W (or 3×H×W) -> ``Explanation(map_hw: float32 H×W, meta: dict)``; with N×3×H×W and one target
    per image -> ``list[Explanation]``. ``meta``: method, params, target, signed, versions, seconds, ...
    ``method.params`` (all, incl. ``seed``) and ``method.cache_params`` (without batch sizes).
    Same seed -> same map; no hook stays on the model, even after an exception; the model must be in
    eval mode. DeepLift/Guided Backprop run on a copy with separate ReLUs, or raise
    ``UnsupportedModelError`` (a ``ValueError``).

Rendering (:mod:`study_app.explain.render`)
    ``render_explanation(image, map_hw, mode="overlay"|"map"|"side_by_side"|"contour", signed=False,
    method_label=None, colours="gnbu") -> Rendered(png: bytes, alt_text: str, size, description, colours)``;
    ``normalize_map(map_hw, signed)``; the colour schemes in :mod:`study_app.explain.colours` (``MAP_COLOURS``).

Service (:mod:`study_app.explain.service`), thread-safe, share one per process
    ``ExplanationService(cache_dir=None, top_k=3)``:
    ``.predict(checkpoint, image_path) -> trainers.predict.Prediction``;
    ``.get_or_compute(checkpoint, image_path, method, params=None, *, target=None, faithfulness=False,
    faithfulness_options=None) -> CachedExplanation`` (map_hw, labels, probs, target, target_label,
    method, params, signed, meta, map_sha256, faithfulness, key, image_sha256, checkpoint_sha256,
    from_cache); ``.key_for(checkpoint, image_path, method, params=None, target=None) -> str``;
    ``.display(checkpoint, image_path) -> PIL.Image``; ``.render(checkpoint, image_path, explanation,
    mode="overlay", signed=False, method_label=None, colours="gnbu") -> Rendered``; ``.cache`` (the AttributionCache).

Cache (:mod:`study_app.explain.cache`)
    ``AttributionCache(root=None)`` with ``get(key) -> CacheEntry | None``, ``put(key, map_hw, record)``,
    ``key in cache``; ``cache_key(checkpoint_sha256, image_sha256, method, params)``; ``map_sha256``;
    ``resolve_cache_dir(preferred=None)``: the one folder rule (``$XAI_STUDY_CACHE``, else ``preferred``, e.g.
    a study's ``cache`` folder, else ``./.xai_cache``); ``default_cache_dir()`` is it without a study.

Precompute (:mod:`study_app.explain.precompute`)
    ``precompute(items=[(checkpoint_dir, image_path), ...], methods=["lime", ("gradcam", {})], cache_dir=None,
    progress=True, *, faithfulness=False, faithfulness_options=None, device="cpu", service=None)
    -> PrecomputeSummary(computed, cached, failed, seconds)``; ``list_images(folder)``.

Faithfulness (:mod:`study_app.explain.faithfulness`, :mod:`study_app.explain.sanity`)
    ``faithfulness_report(method, model, x, target, map_hw, *, normalization, steps, infidelity_samples,
    sensitivity_samples, sanity) -> {deletion_auc, insertion_auc, infidelity, sensitivity_max,
    randomization_spearman}``; ``deletion_insertion``, ``infidelity_score``, ``sensitivity_score``,
    ``randomization_check``, ``randomized_copy(model, layers=("layer4", "fc"), seed=0)``.

Commands: ``xai-study precompute`` for an image folder (:mod:`.precompute_cli`; ``--study`` is added by
:mod:`study_app.maps.precompute_cli`) and ``xai-study faithfulness``
(:mod:`.faithfulness_cli`).
"""
