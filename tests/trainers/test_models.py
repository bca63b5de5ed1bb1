
import pytest
import torch

from trainers.checkpoint import load_checkpoint
from trainers.models import (
    CAT_IMAGENET_CLASSES,
    DOG_IMAGENET_CLASSES,
    PretrainedWeightsUnavailable,
    SmallNet,
    build_resnet,
    fold_imagenet_to_cat_dog,
    imagenet_weights_file,
)
from trainers.predict import predict_topk
from trainers.zeroshot import build_zero_shot_checkpoint


@pytest.mark.parametrize("arch,width", [("resnet18", 512), ("resnet34", 512), ("resnet50", 2048)])
def test_resnets_get_a_head_of_the_right_size(arch, width):
    m = build_resnet(arch, 4).eval()
    assert m.fc.in_features == width and m.fc.out_features == 4
    assert m(torch.randn(1, 3, 32, 32)).shape == (1, 4)


def test_unknown_arch_is_refused():
    with pytest.raises(ValueError, match="unknown arch"):
        build_resnet("vgg11", 2)


def _backbone_favouring(index: int):
    torch.manual_seed(0)
    backbone = build_resnet("resnet18", 4)
    backbone.fc = torch.nn.Linear(512, 1000)
    with torch.no_grad():
        backbone.fc.weight.zero_()
        backbone.fc.bias.zero_()
        backbone.fc.bias[index] = 12.0
    return backbone.eval()


def test_zero_shot_fold_sums_to_one_and_picks_the_group():
    x = torch.randn(3, 3, 32, 32)
    for favoured, expected in ((DOG_IMAGENET_CLASSES[5], 1), (CAT_IMAGENET_CLASSES[0], 0)):
        model = fold_imagenet_to_cat_dog(_backbone_favouring(favoured))
        probs = torch.softmax(model(x), 1)
        assert torch.allclose(probs.sum(1), torch.ones(3), atol=1e-6)
        assert (probs.argmax(1) == expected).all()
        assert probs[:, expected].min() > 0.9


def test_zero_shot_fold_equals_the_summed_imagenet_probabilities():
    torch.manual_seed(1)
    backbone = build_resnet("resnet18", 4)
    backbone.fc = torch.nn.Linear(512, 1000)
    model = fold_imagenet_to_cat_dog(backbone.eval())
    x = torch.randn(2, 3, 32, 32)
    p = torch.softmax(backbone(x), 1)
    cat, dog = p[:, list(CAT_IMAGENET_CLASSES)].sum(1), p[:, list(DOG_IMAGENET_CLASSES)].sum(1)
    expected = torch.stack([cat, dog], 1) / (cat + dog)[:, None]
    assert torch.allclose(torch.softmax(model(x), 1), expected, atol=1e-5)


def test_zero_shot_checkpoint_from_a_local_weights_file(tmp_path):
    from PIL import Image

    weights = tmp_path / "resnet18-imagenet.pth"
    torch.save(_backbone_favouring(DOG_IMAGENET_CLASSES[0]).state_dict(), weights)
    build_zero_shot_checkpoint(tmp_path / "zs", "resnet18", weights, input_size=32)
    ck = load_checkpoint(tmp_path / "zs")
    assert ck.class_names == ["cat", "dog"]
    assert len(ck.imagenet_class_names) == 1000
    (pred,) = predict_topk(ck, [Image.new("RGB", (40, 40), (120, 80, 60))], k=2)
    assert pred.label == "dog"
    assert abs(sum(pred.probs) - 1) < 1e-5
    # the top-3 ImageNet labels travel with the prediction, as the seed study showed them
    assert pred.imagenet_topk[0][0] == ck.imagenet_class_names[DOG_IMAGENET_CLASSES[0]]


def test_offline_imagenet_request_names_the_file_to_place(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    target = imagenet_weights_file("resnet18")
    assert str(tmp_path) in str(target)
    try:
        build_resnet("resnet18", 2, pretrained="imagenet")
    except PretrainedWeightsUnavailable as exc:
        msg = str(exc)
        assert str(target) in msg and "--weights" in msg and "https://" in msg
    else:  # a machine with internet really downloaded them: then the file is where the message would say
        assert target.is_file()


def test_missing_local_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(PretrainedWeightsUnavailable, match="no such file"):
        build_resnet("resnet18", 2, weights_path=tmp_path / "nope.pth")


@pytest.mark.parametrize("block", ["plain", "residual", "skip"])
def test_ablation_networks_run(block):
    net = SmallNet(block, 10, (8, 16, 32))
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
