"""Every registry method on a real (tiny) torchvision ResNet: shape, finiteness, seeding, hooks, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import DeepLift, Occlusion
from torch import nn

from study_app.explain.base import UnsupportedModelError
from study_app.explain.hooks import hook_counts, no_leftover_hooks
from study_app.explain.methods import DEFAULT_TRIO, METHODS, get_method
from study_app.explain.segmentation import superpixels
from trainers.models import IMAGENET_MEAN, IMAGENET_STD, fold_imagenet_to_cat_dog

from ._helpers import SIZE, TINY_PARAMS


def tiny(name: str, **extra):
    return get_method(name, **{**TINY_PARAMS.get(name, {}), **extra})


def no_hooks(model: nn.Module) -> bool:
    return sum(hook_counts(model).values()) == 0


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_gives_a_finite_map_of_input_size_and_leaves_no_hooks(name, resnet, batch):
    result = tiny(name).explain(resnet, batch[:1], 1)
    assert result.map_hw.shape == (SIZE, SIZE)
    assert result.map_hw.dtype == np.float32
    assert np.isfinite(result.map_hw).all()
    assert np.abs(result.map_hw).max() > 0, "an all-zero map explains nothing"
    assert result.meta["method"] == name
    assert result.meta["target"] == 1
    assert {"torch", "captum", "torchvision"} <= set(result.meta["versions"])
    assert result.meta["seconds"] > 0
    if not result.meta["signed"]:
        assert result.map_hw.min() >= 0
    assert no_hooks(resnet)
    assert not resnet.training


@pytest.mark.parametrize("name", ["gradcam", "saliency", "lime", "occlusion", "integrated_gradients"])
def test_a_batch_gives_one_map_per_image_equal_to_single_calls(name, resnet, batch):
    method = tiny(name)
    maps = method.explain(resnet, batch, [0, 2])
    assert isinstance(maps, list) and len(maps) == 2
    for i, target in enumerate([0, 2]):
        single = method.explain(resnet, batch[i : i + 1], target)
        np.testing.assert_allclose(maps[i].map_hw, single.map_hw, rtol=1e-4, atol=1e-6)
    assert [m.meta["target"] for m in maps] == [0, 2]


@pytest.mark.parametrize("name", ["lime", "kernel_shap", "gradient_shap", "smoothgrad"])
def test_same_seed_same_map_other_seed_other_map(name, resnet, batch):
    first = tiny(name, seed=3).explain(resnet, batch[:1], 0).map_hw
    again = tiny(name, seed=3).explain(resnet, batch[:1], 0).map_hw
    other = tiny(name, seed=4).explain(resnet, batch[:1], 0).map_hw
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other), "the seed should drive the method's sampling"


def test_noise_baseline_is_seeded_and_global_rng_is_left_alone(resnet, batch):
    torch.manual_seed(123)
    np.random.seed(7)
    expected_torch, expected_np = torch.rand(3), np.random.rand(3)
    torch.manual_seed(123)
    np.random.seed(7)
    a = tiny("integrated_gradients", baseline="noise").explain(resnet, batch[:1], 0).map_hw
    assert torch.equal(torch.rand(3), expected_torch)
    assert np.array_equal(np.random.rand(3), expected_np)
    b = tiny("integrated_gradients", baseline="noise").explain(resnet, batch[:1], 0).map_hw
    np.testing.assert_array_equal(a, b)


class _TinyCam(nn.Module):
    """layer4 = one fixed 1×1 convolution (no downsampling), then global average pooling and fc."""

    def __init__(self):
        super().__init__()
        conv = nn.Conv2d(3, 2, kernel_size=1, bias=False)
        conv.weight.data = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]]).view(2, 3, 1, 1)
        self.layer4 = nn.Sequential(conv)
        self.fc = nn.Linear(2, 2)
        self.fc.weight.data = torch.tensor([[2.0, -1.0], [-1.0, 3.0]])
        self.fc.bias.data.zero_()

    def forward(self, x):
        return self.fc(self.layer4(x).mean(dim=(2, 3)))


def test_gradcam_matches_a_hand_computation():
    model = _TinyCam().eval()
    x = torch.arange(48, dtype=torch.float32).view(1, 3, 4, 4) / 10 - 2
    # Hand computation: A_k = conv output; d y_c / d A_k(i,j) = fc[c,k] / 16, so alpha_k = fc[c,k] / 16;
    # CAM = ReLU(sum_k alpha_k A_k); layer4 keeps the 4×4 size, so upsampling is the identity.
    xn = x[0].numpy()
    a0 = xn[0] - xn[2]
    a1 = 0.5 * (xn[0] + xn[1] + xn[2])
    for target, (w0, w1) in enumerate([(2.0, -1.0), (-1.0, 3.0)]):
        expected = np.maximum(w0 / 16 * a0 + w1 / 16 * a1, 0)
        got = get_method("gradcam").explain(model, x, target).map_hw
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert no_hooks(model)


def test_gradcam_targets_the_backbone_of_a_zero_shot_model():
    torch.manual_seed(0)
    from torchvision.models import resnet18

    model = fold_imagenet_to_cat_dog(resnet18(num_classes=1000)).eval()
    x = torch.randn(1, 3, SIZE, SIZE)
    result = get_method("gradcam").explain(model, x, 1)
    assert result.meta["layer"] == "backbone.layer4.1"
    assert result.map_hw.shape == (SIZE, SIZE)
    with pytest.raises(ValueError, match="out of range"):
        get_method("gradcam").explain(model, x, 2)


def test_lime_and_kernel_shap_use_the_identical_segmentation(resnet, batch):
    lime = tiny("lime").explain(resnet, batch[:1], 0)
    shap = tiny("kernel_shap").explain(resnet, batch[:1], 0)
    seg = superpixels(batch[0], IMAGENET_MEAN, IMAGENET_STD, TINY_PARAMS["lime"]["n_segments"])
    assert lime.meta["segments_sha256"] == shap.meta["segments_sha256"]
    assert lime.meta["n_superpixels"] == shap.meta["n_superpixels"] == int(seg.max()) + 1 >= 4
    for label in range(int(seg.max()) + 1):  # one value per superpixel, for both methods
        inside = seg.numpy() == label
        assert np.ptp(lime.map_hw[inside]) == 0
        assert np.ptp(shap.map_hw[inside]) == 0


def test_occlusion_equals_plain_captum(resnet, batch):
    ours = get_method("occlusion", window=8, stride=4, perturbations_per_eval=16).explain(resnet, batch[:1], 1)
    naive = Occlusion(resnet).attribute(batch[:1], sliding_window_shapes=(3, 8, 8), strides=(3, 4, 4), target=1)
    np.testing.assert_allclose(ours.map_hw, naive[0].mean(0).numpy(), rtol=1e-4, atol=1e-5)


def test_deeplift_on_the_split_relu_copy_satisfies_completeness(resnet, batch):
    """DeepLift's attributions sum to f(x) - f(baseline). Plain Captum refuses torchvision's reused ReLU
    modules; our copy with one ReLU per activation works, and the shared model stays untouched."""
    x = batch[:1]
    result = get_method("deeplift", baseline="mean").explain(resnet, x, 1)
    with torch.no_grad():
        delta = (resnet(x) - resnet(torch.zeros_like(x)))[0, 1].item()
    assert result.map_hw.sum() == pytest.approx(delta, rel=1e-3, abs=1e-4)
    with pytest.raises(RuntimeError, match="used more than once"), no_leftover_hooks(resnet):
        DeepLift(resnet).attribute(x.clone(), baselines=torch.zeros_like(x), target=1)  # plain Captum refuses
    assert all(m.inplace for m in resnet.modules() if isinstance(m, nn.ReLU)), "original model was modified"
    assert no_hooks(resnet)


class _SharedRelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        h = self.relu(self.conv(x))
        return self.fc(self.relu(h - 0.1).mean(dim=(2, 3)))


@pytest.mark.parametrize("name", ["deeplift", "guided_backprop"])
def test_relu_sensitive_methods_refuse_models_they_cannot_rewrite(name):
    with pytest.raises(UnsupportedModelError, match="only supported on torchvision ResNets"):
        get_method(name).explain(_SharedRelu().eval(), torch.randn(1, 3, 8, 8), 0)


class _BrokenHead(nn.Module):
    """A ResNet backbone whose head fails after the backbone ran (and Captum's hooks fired)."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.num_groups = 3

    def forward(self, x):
        self.backbone(x)
        raise RuntimeError("head failed")


@pytest.mark.parametrize("name", ["gradcam", "integrated_gradients", "saliency", "lime"])
def test_no_hooks_remain_after_an_exception(name, resnet, batch):
    model = _BrokenHead(resnet).eval()
    kept = resnet.fc.register_forward_hook(lambda *a: None)  # a user's own hook must survive
    try:
        with pytest.raises(RuntimeError, match="head failed"):
            tiny(name).explain(model, batch[:1], 0)
        assert hook_counts(model)["_forward_hooks"] == 1
        assert sum(hook_counts(model).values()) == 1
    finally:
        kept.remove()


def test_hook_guard_removes_only_new_hooks_even_on_error(resnet):
    kept = resnet.layer1.register_forward_hook(lambda *a: None)
    try:
        with pytest.raises(KeyError), no_leftover_hooks(resnet):
            resnet.layer4.register_forward_hook(lambda *a: None)
            resnet.fc.register_full_backward_hook(lambda *a: None)
            raise KeyError("boom")
        assert hook_counts(resnet) == {
            "_forward_hooks": 1,
            "_forward_pre_hooks": 0,
            "_backward_hooks": 0,
            "_backward_pre_hooks": 0,
        }
    finally:
        kept.remove()


def test_registry_names_and_default_trio():
    expected = {
        "gradcam",
        "integrated_gradients",
        "lime",
        "kernel_shap",
        "occlusion",
        "saliency",
        "gradient_shap",
        "smoothgrad",
        "deeplift",
        "guided_backprop",
    }
    assert set(METHODS) == expected
    assert DEFAULT_TRIO == ("lime", "kernel_shap", "gradcam")


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("anchors", {}, "unknown explanation method 'anchors'; choose one of gradcam"),
        ("lime", {"n_sample": 10}, "unknown parameter.*n_sample.*allowed: .*n_samples"),
        ("lime", {"n_samples": "many"}, "n_samples must be an integer"),
        ("lime", {"n_samples": 0}, "must be positive"),
        ("integrated_gradients", {"baseline": "white"}, "baseline='white' is not allowed"),
        ("smoothgrad", {"noise_level": float("nan")}, "finite"),
    ],
)
def test_bad_names_and_parameters_fail_clearly(name, params, message):
    with pytest.raises(ValueError, match=message):
        get_method(name, **params)


def test_cache_params_leave_out_batch_sizes():
    method = get_method("lime", perturbations_per_eval=4)
    assert "perturbations_per_eval" not in method.cache_params
    assert method.cache_params["n_samples"] == 4000 and method.cache_params["seed"] == 0
    assert method.cache_params["sampling"] == "plain"  # a changed sampling scheme changes the cache key
    assert get_method("kernel_shap").cache_params["sampling"] == "paired"


def test_bad_inputs_fail_clearly(resnet, batch):
    gradcam = get_method("gradcam")
    with pytest.raises(ValueError, match="shape 3×H×W or N×3×H×W"):
        gradcam.explain(resnet, batch[0, 0], 0)
    with pytest.raises(ValueError, match="got 1 targets for 2 images"):
        gradcam.explain(resnet, batch, [0])
    with pytest.raises(ValueError, match="out of range for a model with 3 outputs"):
        gradcam.explain(resnet, batch[:1], 3)
    with pytest.raises(ValueError, match="NaN"):
        gradcam.explain(resnet, torch.full((1, 3, SIZE, SIZE), float("nan")), 0)
    with pytest.raises(ValueError, match="float tensor"):
        gradcam.explain(resnet, torch.zeros(1, 3, SIZE, SIZE, dtype=torch.uint8), 0)
    with pytest.raises(ValueError, match="occlusion window 64 is larger"):
        get_method("occlusion", window=64).explain(resnet, batch[:1], 0)
    with pytest.raises(ValueError, match="segments must be"):
        tiny("lime").explain(resnet, batch[:1], 0, segments=np.zeros((5, 5), dtype=int))
    with pytest.raises(UnsupportedModelError, match="no layer4"):
        gradcam.explain(_SharedRelu().eval(), torch.randn(1, 3, 8, 8), 0)


def test_training_mode_is_refused_not_silently_changed(batch):
    torch.manual_seed(0)
    from trainers.models import build_resnet

    model = build_resnet("resnet18", 2)  # training mode
    before = model.bn1.running_mean.clone()
    with pytest.raises(ValueError, match=r"model.eval\(\)"):
        get_method("saliency").explain(model, batch[:1], 0)
    assert torch.equal(model.bn1.running_mean, before)


def test_perturbation_engine_handles_the_zero_shot_model_like_plain_captum():
    """The folded zero-shot model goes through the batch-norm-folding fast path too; same map as Captum."""
    torch.manual_seed(0)
    from torchvision.models import resnet18

    model = fold_imagenet_to_cat_dog(resnet18(num_classes=1000)).eval()
    x = torch.randn(1, 3, SIZE, SIZE)
    ours = get_method("occlusion", window=16, stride=8).explain(model, x, 1)
    naive = Occlusion(model).attribute(x, sliding_window_shapes=(3, 16, 16), strides=(3, 8, 8), target=1)
    np.testing.assert_allclose(ours.map_hw, naive[0].mean(0).numpy(), rtol=1e-4, atol=1e-5)


def test_fast_forward_folds_batch_norm_into_a_copy_and_computes_the_same_function():
    """The perturbation methods' forward runs a batch-norm-free, channels-last copy; the model itself is
    untouched, and after an in-place weight change the copy is rebuilt rather than explaining stale weights."""
    from study_app.explain.model_variants import _fast_cache, fast_forward
    from trainers.models import build_resnet

    torch.manual_seed(0)
    resnet = build_resnet("resnet18", 3).eval()
    x = torch.randn(4, 3, SIZE, SIZE)
    state = {k: v.clone() for k, v in resnet.state_dict().items()}
    forward = fast_forward(resnet)
    with torch.inference_mode():
        reference = resnet(x)
    torch.testing.assert_close(forward(x), reference, rtol=1e-4, atol=1e-5)
    fused = _fast_cache[resnet][1].eager
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert fused.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert any(isinstance(m, nn.BatchNorm2d) for m in resnet.modules()) and resnet.training is False
    for k, v in resnet.state_dict().items():
        assert torch.equal(v, state[k]), k
    with torch.no_grad():
        resnet.fc.bias.add_(1.0)
    with torch.inference_mode():
        torch.testing.assert_close(fast_forward(resnet)(x), resnet(x), rtol=1e-4, atol=1e-5)
    assert _fast_cache[resnet][1].eager is not fused
