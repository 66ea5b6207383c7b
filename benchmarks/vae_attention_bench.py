"""Time the VAE middle block's attention alone on the GPU: PyTorch's SDPA (the memory-efficient cutlass kernel for
one head of dim 384) against model.vae.attention_by_gemms (two batched GEMMs, float32 logits), eager and compiled
as compile_vae compiles it, at the reference run's shape (one frame of 60 x 104 latent positions, C = 384, BF16).
Each variant's 10 calls are captured in one CUDA graph and the replays timed (benchmarks/cuda_timing.py, per
call), with the TFLOP/s of its 4 L^2 C FLOPs, and its max abs difference from float64 attention of the same BF16
inputs (SDPA's own shown beside it). Prints one table; `--json PATH` writes the rows.

    python benchmarks/vae_attention_bench.py
"""
import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.vae import attention_by_gemms  # noqa: E402
from benchmarks.cuda_timing import graph_median_us  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--positions", type=int, default=60 * 104)
    args = ap.parse_args()
    L, C = args.positions, 384
    g = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (torch.randn(1, L, C, device="cuda", generator=g).to(torch.bfloat16) for _ in range(3))
    variants = {"sdpa (as the model calls it)": lambda: F.scaled_dot_product_attention(
                    q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)).squeeze(1),
                "attention_by_gemms, eager": lambda: attention_by_gemms(q, k, v),
                "attention_by_gemms, compiled": torch.compile(lambda: attention_by_gemms(q, k, v), fullgraph=True)}
    with torch.no_grad():
        ref = F.scaled_dot_product_attention(*(t.double() for t in (q, k, v)))
        rows = []
        for name, fn in variants.items():
            us = graph_median_us(fn, calls=10)
            rows.append({"variant": name, "us": us, "tflop_s": 4 * L * L * C / us / 1e6,
                         "max_abs_diff_vs_float64": (fn().double() - ref).abs().max().item()})
    out = {"device": torch.cuda.get_device_name(), "shape": [1, L, C], "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"{out['device']}: VAE middle attention, one head, [1, {L}, {C}] BF16")
    for r in rows:
        print(f"{r['variant']:30s} {r['us']:7.1f} us  {r['tflop_s']:6.1f} TFLOP/s  "
              f"max abs diff vs float64 {r['max_abs_diff_vs_float64']:.1e}")


if __name__ == "__main__":
    main()
