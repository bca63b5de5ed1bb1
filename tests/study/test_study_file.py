"""Study files: every mistake comes back naming its field or file; good files load, examples included."""

from __future__ import annotations

import ast
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from study.kit import make_checkpoint, write_study
from study_app.study import StudyFileError, StudyFileErrors, load_study
from study_app.study.method_fields import known_method_names
from study_app.study.parser import parse_study
from study_app.study.schema import DEFAULT_PRE_QUESTIONNAIRE

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def good(tmp_path, checkpoint_dir, stimuli_dir) -> dict:
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir)
    return tomllib.loads(path.read_text())


def _error(data: dict) -> StudyFileError:
    with pytest.raises(StudyFileError) as err:
        parse_study(data, "s.toml")
    return err.value


@pytest.mark.parametrize(
    "mutate,field,words",
    [
        (lambda d: d.pop("study"), "study", "required"),
        (lambda d: d["study"].pop("title"), "study.title", "required"),
        (lambda d: d["study"].update(id="has space"), "study.id", "letters"),
        (lambda d: d["study"].update(seed="7"), "study.seed", "integer"),
        (lambda d: d["study"].update(completion_code=""), "study.completion_code", "empty"),
        (lambda d: d["study"].update(redirect_url="javascript:alert(1)"), "study.redirect_url", "https"),
        (lambda d: d["study"].pop("consent"), "study.consent", "required"),
        (lambda d: d["study"].update(inactive_timeout_minutes=0), "study.inactive_timeout_minutes", "positive"),
        (lambda d: d["study"].update(keep_external_ids="yes"), "study.keep_external_ids", "true or false"),
        (lambda d: d["study"].update(colour="blue"), "study.colour", "unknown key"),
        (lambda d: d["design"].update(type="mixed"), "design.type", "within"),
        (lambda d: d["design"].update(negative_control="shap"), "design.negative_control", "not a method"),
        (lambda d: d.update(methods=[]), "methods", "at least one"),
        (lambda d: d["methods"][1].update(name="telepathy"), "methods[1].name", "unknown method"),
        (lambda d: d["methods"][1].update(key="gradcam"), "methods[1].key", "duplicate"),
        (lambda d: d["methods"][0].update(key="none"), "methods[0].key", "none"),
        (lambda d: d["methods"][0].update(params=3), "methods[0].params", "table"),
        (lambda d: d.update(tasks=[]), "tasks", "at least one"),
        (lambda d: d["tasks"][0].update(protocol="guess"), "tasks[0].protocol", "not one of"),
        (lambda d: d["tasks"][0].update(trials=0), "tasks[0].trials", ">= 1"),
        (lambda d: d["tasks"][0].update(trials=True), "tasks[0].trials", "boolean"),
        (lambda d: d["tasks"][0].update(k=3), "tasks[0].k", "only applies"),
        (lambda d: d["tasks"][0].update(learning_trials=2), "tasks[0].learning_trials", "only applies"),
        (lambda d: d["tasks"][0].update(display="side_by_side"), "tasks[0].display", "rate"),
        (lambda d: d["tasks"][0].update(scale=[5, 1]), "tasks[0].scale", "low < high"),
        (lambda d: d["tasks"][0].update(clinical_notice="yes"), "tasks[0].clinical_notice", "got str"),
        (lambda d: d["tasks"][0].update(stimuli=[]), "tasks[0].stimuli", "empty"),
        (lambda d: d["tasks"][0].update(stimuli=[{"path": "a.png"}]), "tasks[0].stimuli[0].label", "required"),
        (lambda d: d["tasks"].append(dict(d["tasks"][0])), "tasks[1].name", "duplicate"),
        (lambda d: d.update(pre_questionnaire=[{"id": "q", "text": "?", "kind": "slider"}]),
         "pre_questionnaire[0].kind", "not one of"),
        (lambda d: d.update(post_questionnaire=[{"id": "q", "text": "?", "kind": "choice", "options": ["a"]}]),
         "post_questionnaire[0].options", "at least two"),
        (lambda d: d.update(post_questionnaire=[{"id": "q", "text": "?", "kind": "text"}] * 2),
         "post_questionnaire[1].id", "duplicate"),
    ],
    ids=lambda v: None if callable(v) else str(v),
)
def test_errors_name_the_field(good, mutate, field, words):
    mutate(good)
    err = _error(good)
    assert err.field == field
    assert words in str(err)
    assert str(err).startswith(f"s.toml: {field}:")


def test_forward_simulation_requires_learning_trials(good):
    good["tasks"][0]["protocol"] = "forward_simulation"
    assert _error(good).field == "tasks[0].learning_trials"


def test_side_by_side_with_within_control_is_refused(good):
    good["design"]["control"] = True
    good["tasks"][0].update(protocol="rate", display="side_by_side")
    assert _error(good).field == "tasks[0].display"


def test_defaults_and_negative_control_arm(good):
    good["design"].update(control=True, negative_control="gradcam")
    good["study"]["blind_method_names"] = True
    study = parse_study(good, "s.toml")
    assert study.pre_questionnaire == DEFAULT_PRE_QUESTIONNAIRE
    assert [q.id for q in study.pre_questionnaire] == ["age_band", "ml_experience", "domain_expertise"]
    assert study.arms == ("gradcam", "integrated_gradients", "gradcam@random", "none")
    random_arm = study.method("gradcam@random")
    assert random_arm.randomized_model and random_arm.name == "gradcam"
    assert [m.label for m in study.methods] == ["Explanation A", "Explanation B", "Explanation C"]


def test_method_names_come_from_the_explain_registry(good):
    """The registry is the one list: every registered method is accepted, anything else is refused."""
    from study_app.explain.methods import METHODS
    from study_app.explain.panels import PANEL_DEFAULTS

    assert known_method_names() == (*METHODS, *PANEL_DEFAULTS)
    for name in METHODS:
        parse_study({**good, "methods": [{"name": name}]}, "s.toml")
    for name in PANEL_DEFAULTS:  # a panel names its folders
        folders = {k: "pool" for k in ("pool", "concepts") if k in PANEL_DEFAULTS[name]}
        parse_study({**good, "methods": [{"name": name, "params": folders}]}, "s.toml")
        err = _error({**good, "methods": [{"name": name}]})
        assert err.field == "methods[0].params" and "pool" in str(err)
    err = _error({**good, "methods": [{"name": "not_a_method"}]})
    assert err.field == "methods[0].name" and "unknown method" in str(err)


def test_load_resolves_paths_hashes_and_reads_checkpoint(tmp_path, checkpoint_dir, stimuli_dir):
    path = write_study(tmp_path, "rate", checkpoint=checkpoint_dir, stimuli=stimuli_dir)
    study = load_study(path)
    task = study.tasks[0]
    assert task.class_names == ("cat", "dog")
    assert len(task.stimuli) == 20
    assert {s.label for s in task.stimuli} == {"cat", "dog"}
    assert all(Path(s.path).is_absolute() and len(s.sha256) == 64 for s in task.stimuli)
    assert task.stimuli[0].image_id == "cat/cat_00.png"
    import hashlib

    assert study.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_stimuli_as_a_list_and_consent_file(tmp_path, checkpoint_dir, stimuli_dir):
    (tmp_path / "consent.md").write_text("# Consent\n\nJa, gerne. ✓", encoding="utf-8")
    images = sorted(stimuli_dir.glob("*/*.png"))[:3] + sorted(stimuli_dir.glob("dog/*.png"))[:2]
    listing = ", ".join(f'{{ path = "{p.as_posix()}", label = "{p.parent.name}" }}' for p in images)
    tasks = f"""
[[tasks]]
name = "listed"
protocol = "verification"
checkpoint = "{checkpoint_dir.as_posix()}"
stimuli = [{listing}]
trials = 4
"""
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir, tasks=tasks)
    text = path.read_text().replace('consent = "You agree to take part."', 'consent_file = "consent.md"')
    path.write_text(text)
    study = load_study(path)
    assert study.consent.endswith("gerne. ✓")
    assert [s.label for s in study.tasks[0].stimuli] == [p.parent.name for p in images]


@pytest.mark.parametrize(
    "problem,field",
    [
        ("no_checkpoint", "tasks[0].checkpoint"),
        ("too_many_trials", "tasks[0].trials"),
        ("unknown_label", "tasks[0].stimuli"),
        ("no_folder", "tasks[0].stimuli"),
        ("k_too_big", "tasks[0].k"),
    ],
)
def test_load_errors_name_the_field(problem, field, tmp_path, checkpoint_dir, stimuli_dir):
    kwargs = {"checkpoint": checkpoint_dir, "stimuli": stimuli_dir}
    protocol = "verification"
    if problem == "no_checkpoint":
        kwargs["checkpoint"] = tmp_path / "missing"
    elif problem == "too_many_trials":
        kwargs["trials"] = 21
    elif problem == "unknown_label":
        stim = tmp_path / "stim"
        shutil.copytree(stimuli_dir, stim)
        shutil.copytree(stim / "dog", stim / "horse")
        kwargs["stimuli"] = stim
    elif problem == "no_folder":
        kwargs["stimuli"] = tmp_path / "nowhere"
    else:
        protocol, kwargs["extra"] = "distinction", "k = 3"
    path = write_study(tmp_path, protocol, **kwargs)
    with pytest.raises(StudyFileError) as err:
        load_study(path)
    assert err.value.field == field
    assert str(path) in str(err.value)


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(StudyFileError, match="cannot read"):
        load_study(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\nid = 1")
    with pytest.raises(StudyFileError, match="not valid TOML"):
        load_study(bad)
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(StudyFileError, match="UTF-8"):
        load_study(bad)


def _stimuli_with(tmp_path, stimuli_dir, name: str, write) -> Path:
    stim = tmp_path / "stim"
    shutil.copytree(stimuli_dir, stim)
    write(stim / "cat" / name)
    return stim


@pytest.mark.parametrize(
    "name,write,reason",
    [
        ("empty.png", lambda p: p.write_bytes(b""), "empty file"),
        ("text.jpg", lambda p: p.write_text("not an image"), "not an image"),
        ("cut.png", lambda p: p.write_bytes((Path(__file__).parent / "kit.py").read_bytes()[:0] +
                                          _png_bytes()[:60]), "corrupt"),
        ("bomb.png", lambda p: Image.new("1", (20000, 20000)).save(p), "decompression-bomb"),
    ],
)
def test_bad_stimulus_is_an_error_naming_the_file(name, write, reason, tmp_path, checkpoint_dir, stimuli_dir):
    stim = _stimuli_with(tmp_path, stimuli_dir, name, write)
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stim)
    with pytest.raises(StudyFileError) as err:
        load_study(path)
    assert name in str(err.value)
    assert reason in str(err.value)
    assert err.value.field == "tasks[0].stimuli"


def _png_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_unusual_image_modes_load(tmp_path, checkpoint_dir, stimuli_dir, make_engine_for, sqlite_repo):
    """CMYK, RGBA, palette, 16-bit and EXIF-rotated stimuli pass the check and reach the model as RGB."""
    from trainers.images import open_rgb

    stim = tmp_path / "stim"
    shutil.copytree(stimuli_dir, stim)
    Image.new("CMYK", (24, 16), (0, 255, 255, 0)).save(stim / "cat" / "cmyk.jpg")
    Image.new("RGBA", (24, 16), (255, 0, 0, 0)).save(stim / "cat" / "rgba.png")
    Image.new("RGB", (24, 16), (0, 0, 255)).convert("P").save(stim / "dog" / "palette.png")
    Image.fromarray(np.arange(24 * 16, dtype=np.uint16).reshape(16, 24) * 100).save(stim / "dog" / "deep.png")
    rotated = Image.new("RGB", (40, 20), (200, 100, 0))
    exif = rotated.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    rotated.save(stim / "dog" / "exif.jpg", exif=exif)
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stim, trials=20)
    study = load_study(path)
    by_id = {s.image_id: s for s in study.tasks[0].stimuli}
    assert open_rgb(by_id["dog/exif.jpg"].path).size == (20, 40)
    assert open_rgb(by_id["cat/rgba.png"].path).getpixel((0, 0)) == (255, 255, 255)  # transparent -> white
    assert open_rgb(by_id["dog/deep.png"].path).mode == "RGB"
    from study_app.study.predictions import predict_task

    preds = predict_task(study.tasks[0])
    assert set(preds.by_image) == set(by_id)


@pytest.fixture
def examples_copy(tmp_path) -> Path:
    """The shipped examples with a tiny checkpoint where they expect the real one."""
    root = tmp_path / "project"
    shutil.copytree(EXAMPLES, root / "examples")
    make_checkpoint(root / "checkpoints" / "catdog_zeroshot_resnet18")
    return root / "examples" / "studies"


@pytest.mark.parametrize("protocol", ["rate", "forward_simulation", "verification", "distinction"])
def test_example_study_files_load_and_run(protocol, examples_copy, make_engine_for, sqlite_repo):
    from study.kit import run_participant

    study = load_study(examples_copy / f"{protocol}.toml")
    assert {t.protocol for t in study.tasks} == {protocol}
    engine = make_engine_for(study, sqlite_repo)
    _, steps = run_participant(engine)
    assert steps[-1].kind == "done"
    assert any(s.kind == "trial" for s in steps)


def test_one_example_per_protocol_is_shipped():
    protocols = set()
    for path in (EXAMPLES / "studies").glob("*.toml"):
        protocols |= {t["protocol"] for t in tomllib.loads(path.read_text())["tasks"]}
    assert protocols == {"rate", "forward_simulation", "verification", "distinction"}


def test_method_params_are_checked_by_the_registry(good):
    pytest.importorskip("study_app.explain.methods")
    good["methods"][1]["params"] = {"n_stepz": 16}
    err = _error(good)
    assert err.field == "methods[1].params"
    assert "n_stepz" in str(err)


def test_every_unreadable_stimulus_is_listed_with_its_reason(tmp_path, checkpoint_dir, stimuli_dir, capsys,
                                                             monkeypatch):
    """Not only the first: a researcher fixing a folder of images wants the whole list in one go."""
    stim = tmp_path / "stim"
    shutil.copytree(stimuli_dir, stim)
    (stim / "cat" / "empty.png").write_bytes(b"")
    (stim / "dog" / "text.jpg").write_text("not an image")
    (stim / "dog" / "cut.png").write_bytes(_png_bytes()[:60])
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stim)
    with pytest.raises(StudyFileError) as err:
        load_study(path)
    message = str(err.value)
    assert "3 unreadable stimulus file(s)" in message
    for name, reason in [("empty.png", "empty file"), ("text.jpg", "not an image"), ("cut.png", "corrupt")]:
        (line,) = [x for x in message.splitlines() if name in x]
        assert reason in line, line

    from study_app.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["check", "--study", str(path)]) != 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("empty.png", "text.jpg", "cut.png")), out


def test_every_broken_table_is_reported_at_once(good):
    """One ``check`` names every broken table (each table stops at its first problem), not one per run."""
    good["study"].update(seed="7")
    good["design"].update(type="mixed")
    good["methods"][1].update(name="telepathy")
    good["tasks"][0].update(trials=0)
    good["post_questionnaire"] = [{"id": "q", "text": "Q?", "kind": "likert", "low": 5, "high": 1}]
    err = _error(good)
    assert isinstance(err, StudyFileErrors)
    fields = [e.field for e in err.errors]
    assert fields == ["study.seed", "design.type", "methods[1].name", "tasks[0].trials", "post_questionnaire[0].high"]
    assert "5 problems" in str(err) and all(f in str(err) for f in fields)
    assert err.field == "study.seed"  # the first, for callers that look at one field


def test_a_misspelt_required_key_is_named(good):
    good["tasks"][0]["trails"] = good["tasks"][0].pop("trials")
    err = _error(good)
    assert err.field == "tasks[0].trials"
    assert "'trails'" in str(err) and "misspelling" in str(err)


def test_unknown_keys_are_all_listed_with_the_key_they_resemble(good):
    good["study"].update(tittle_extra=1, completion_cod="X")
    err = _error(good)
    assert [e.field for e in err.errors] == ["study.completion_cod", "study.tittle_extra"]
    assert "did you mean 'completion_code'?" in err.errors[0].message


def test_one_broken_method_does_not_report_knock_on_arm_errors(good):
    """A broken method is reported once; the tasks are not also told its key is unknown."""
    good["methods"][0].update(name="telepathy")
    err = _error(good)
    assert not isinstance(err, StudyFileErrors) and err.field == "methods[0].name"


def test_loading_reports_every_broken_task_at_once(tmp_path, checkpoint_dir, stimuli_dir):
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir)
    data = path.read_text()
    second = data[data.index("[[tasks]]"):].replace('name = "', 'name = "second-', 1).replace("trials = 4", "trials = 400")
    path.write_text(data.replace(str(checkpoint_dir), str(tmp_path / "nowhere"), 1) + "\n" + second)
    with pytest.raises(StudyFileErrors) as err:
        load_study(path)
    assert [e.field for e in err.value.errors] == ["tasks[0].checkpoint", "tasks[1].trials"]


def test_tools_read_study_files_through_one_entry_point():
    """Only ``study/study_file.py`` parses a study file's TOML; the secrets file, Streamlit's config and
    ``simulate``'s behaviour file are other files, read by their own modules."""
    root = Path(__file__).resolve().parents[2] / "study_app"
    readers = set()
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(n, ast.Attribute) and n.attr in ("loads", "load") and isinstance(n.value, ast.Name)
               and n.value.id == "tomllib" for n in ast.walk(tree)):
            readers.add(path.relative_to(root).as_posix())
    assert readers == {"study/study_file.py", "store/secrets_file.py", "readiness.py", "simulate/behaviour.py"}
