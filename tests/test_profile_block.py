"""The kernel-breakdown script runs (CPU ops here; CUDA kernels on a GPU) and accounts for the block."""
import json
import subprocess
import sys
from pathlib import Path

from scripts.profile_block import block_flops, elementwise_bytes, idle_gaps, kernel_class
from model.config import model_preset

ROOT = Path(__file__).resolve().parents[1]


def test_kernel_classes():
    assert kernel_class("void flash_fwd_kernel<...>") == "attention"
    assert kernel_class("sm90_xmma_gemm_bf16bf16_bf16f32") == "GEMM"
    assert kernel_class("triton_poi_fused_add_mul_0") == "norm / RoPE / modulation (elementwise)"
    assert kernel_class("void at::native::index_copy_kernel_impl") == "cache writes"
    assert kernel_class("Memcpy DtoD (Device -> Device)") == "copies"


def test_block_flops_match_spec():
    """SPEC.md section 4: linear layers 11.7 TFLOP, self-attention 16.2 TFLOP per forward of one block."""
    fl = block_flops(model_preset("wan_1_3b"), 1560, 3, 12, 512)
    assert abs(fl["gemm"] / 1e12 - 11.7) < 0.1
    assert abs((fl["attention"] - 4 * 4680 * 512 * 1536 * 30) / 1e12 - 16.2) < 0.1


def test_profile_script_on_cpu(tmp_path):
    out = subprocess.run([sys.executable, "scripts/profile_block.py", "model=tiny", "device=cpu", f"out={tmp_path}",
                          f"hydra.run.dir={tmp_path}/run"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads((tmp_path / "profile_block.json").read_text())
    classes = {r["class"]: r for r in result["classes"]}
    assert {"GEMM", "attention"} <= set(classes) and classes["GEMM"]["ms"] > 0
    assert sum(r["ms"] for r in result["classes"]) <= result["block_wall_ms_profiled"] * 1.05
    assert "launch gaps" in out.stdout and (tmp_path / "profile_block_trace.json").stat().st_size > 0


def test_elementwise_bytes_count():
    cfg = model_preset("wan_1_3b")
    L = 3 * 1560
    assert elementwise_bytes(cfg, 1560, 3) == 30 * (23 * L * 1536 + 2 * L * 8960) * 2
    assert 0.49e9 < elementwise_bytes(cfg, 1560, 3) / 30 < 0.51e9          # ~0.5 GB per layer per forward


def test_idle_gaps_by_neighbours():
    spans = [(0.0, 1.0, "GEMM", "g1"), (1.5, 3.0, "attention", "a1"), (2.0, 2.5, "copies", "c1"),
             (3.0, 4.0, "GEMM", "g2"), (6.0, 7.0, "GEMM", "g3")]
    idle = idle_gaps(spans)
    assert idle["by_pair"] == {"GEMM -> GEMM": {"ms": 2.0, "count": 1}, "GEMM -> attention": {"ms": 0.5, "count": 1}}
    assert idle["longest"][0] == {"ms": 2.0, "after": "g2", "before": "g3"}
