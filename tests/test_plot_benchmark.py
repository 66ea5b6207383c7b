"""The per-block latency plot is drawn from a committed benchmark row."""
from pathlib import Path

from scripts.plot_benchmark import main

ROW = Path(__file__).resolve().parents[1] / "benchmarks/results/2026-11-25T223304Z_wan_1_3b_ring_default_fa3_b1.json"


def test_plot_from_a_row(tmp_path):
    out = tmp_path / "latency.png"
    assert main([str(ROW), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
