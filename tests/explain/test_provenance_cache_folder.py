"""The export's provenance reads the study's own cache folder ([study] cache), unless $XAI_STUDY_CACHE is set."""

from pathlib import Path

from study_app.explain.provenance import _study_cache_folder


def test_study_cache_folder_is_resolved_against_the_study_file(tmp_path):
    study = tmp_path / "s" / "study.toml"
    study.parent.mkdir()
    study.write_text('[study]\nid = "x"\ncache = "maps"\n')
    assert _study_cache_folder(study) == (tmp_path / "s" / "maps").resolve()


def test_no_cache_field_or_a_broken_file_means_the_default(tmp_path):
    plain = tmp_path / "plain.toml"
    plain.write_text('[study]\nid = "x"\n')
    broken = tmp_path / "broken.toml"
    broken.write_text("[study\n")
    assert _study_cache_folder(plain) is None
    assert _study_cache_folder(broken) is None
    assert _study_cache_folder(tmp_path / "missing.toml") is None


def test_the_bundled_demo_points_at_its_committed_cache():
    root = Path(__file__).resolve().parents[2]
    folder = _study_cache_folder(root / "demo" / "study.toml")
    assert folder == (root / "demo" / "cache").resolve()
    assert any(folder.glob("??/*.npz"))
