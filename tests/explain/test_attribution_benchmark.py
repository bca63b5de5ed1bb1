"""The attribution benchmark runs end to end on a tiny input and finds the engine's maps equal to naive
Captum's (its table's last column); timings themselves are never asserted. LIME and Kernel SHAP have their
own sampler, so their maps are compared with Captum's in ``benchmarks/converged_maps.py`` instead."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "attribution_throughput.py"


def test_benchmark_prints_a_row_per_method_with_equal_maps(capsys):
    spec = importlib.util.spec_from_file_location("attribution_throughput", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--size", "48", "--images", "1", "--gradcam-images", "2",
                "--occlusion-window", "16", "--occlusion-stride", "16", "--methods", "occlusion", "gradcam"])
    out = capsys.readouterr().out
    names = ("occlusion (", "gradcam vs Captum b=1")
    rows = {name: line.split() for line in out.splitlines() for name in names if line.startswith(name)}
    assert set(rows) == set(names), out
    for name, cells in rows.items():
        assert float(cells[-1]) < 1e-4, f"{name}: engine map differs from naive Captum's"
        assert float(cells[-4]) > 0  # a ratio was measured
    assert "forward floor:" in out
