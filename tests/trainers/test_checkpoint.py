import json

import pytest
import torch

from trainers.checkpoint import CardBuilder, CheckpointError, load_checkpoint, read_card, save_checkpoint
from trainers.models import build_resnet


def _save(tmp_path, half=False, arch="resnet18"):
    torch.manual_seed(0)
    model = build_resnet(arch, 3).eval()
    card = CardBuilder(arch, ["a", "b", "c"], 32, train_args={"lr": 0.1, "data": tmp_path}, history=[{"epoch": 1}])
    save_checkpoint(tmp_path / "ck", model, card, half=half)
    return model, tmp_path / "ck"


def test_round_trip_gives_identical_outputs_and_a_full_card(tmp_path):
    model, d = _save(tmp_path)
    x = torch.randn(2, 3, 32, 32)
    loaded = load_checkpoint(d)
    assert not loaded.model.training
    assert torch.equal(model(x), loaded.model(x))
    card = json.loads((d / "card.json").read_text())
    for key in ("arch", "class_names", "input_size", "mean", "std", "train_args", "dataset", "history", "metrics", "created"):
        assert key in card
    assert loaded.class_names == ["a", "b", "c"]
    assert card["train_args"]["data"] == str(tmp_path)
    # the weights file needs nothing but tensors
    state = torch.load(d / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_float16_weights_load_back_as_float32(tmp_path):
    model, d = _save(tmp_path, half=True)
    loaded = load_checkpoint(d)
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    assert read_card(d)["weights_dtype"] == "float16"
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(model(x), loaded.model(x), atol=5e-2)
    full = tmp_path / "full"
    save_checkpoint(full, model, CardBuilder("resnet18", ["a", "b", "c"], 32))
    assert (d / "model.pt").stat().st_size < 0.6 * (full / "model.pt").stat().st_size


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_loader_refuses_a_malicious_pickle(tmp_path):
    _, d = _save(tmp_path)
    marker = tmp_path / "pwned"
    torch.save({"fc.weight": _Evil(str(marker))}, d / "model.pt")
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        load_checkpoint(d)
    assert not marker.exists()


def test_loader_refuses_a_truncated_file(tmp_path):
    _, d = _save(tmp_path)
    data = (d / "model.pt").read_bytes()
    (d / "model.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch file"):
        load_checkpoint(d)


def test_loader_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        load_checkpoint(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="missing card.json"):
        load_checkpoint(tmp_path / "empty")
    _, d = _save(tmp_path)
    (d / "card.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(d)
    (d / "card.json").write_text(json.dumps({"arch": "resnet18"}))
    with pytest.raises(CheckpointError, match="missing field"):
        load_checkpoint(d)


def test_weights_that_do_not_match_the_card_are_refused(tmp_path):
    _, d = _save(tmp_path)
    card = json.loads((d / "card.json").read_text())
    card["class_names"] = ["a", "b"]
    (d / "card.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="do not match"):
        load_checkpoint(d)
