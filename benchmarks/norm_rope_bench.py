"""Time the self-attention's Q and K paths alone on the GPU at the reference run's shape (one block: 4680 tokens
of 12 heads x 128, BF16): RMSNorm + RoPE of Q (the default compiled path: Inductor's kernel of the model's code;
lever `q_rope`: compile/kv_kernel.py's Triton kernel), and of K with the ring-slot write of K and V (Inductor's
kernel of the same math with index_copy_ into the cache; lever `kv_write`: the Triton kernel), the kernel at
each (tokens per program, warps) configuration. Each variant's 20 calls are captured in one CUDA graph and the
replays timed (benchmarks/cuda_timing.py, per call), with the GB/s of the bytes it must move (Q: the row read
and written; K: K and V read and written) and its max abs difference from the model's eager code. Prints one
table per path, fastest first; `--json PATH` writes the rows.

    python benchmarks/norm_rope_bench.py
"""
import argparse
import itertools
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.cuda_timing import graph_median_us  # noqa: E402
from compile import kv_kernel  # noqa: E402
from model.rope import Rope3D, apply_rope  # noqa: E402
from model.wan import RMSNorm  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    B, H, D, h, w, F, S = 1, 12, 128, 30, 52, 3, 15 * 1560
    dim, L = H * D, F * h * w
    torch.manual_seed(0)
    norm = RMSNorm(dim, 1e-6).cuda().to(torch.bfloat16)
    with torch.no_grad():
        norm.weight.copy_(1 + 0.1 * torch.randn(dim))
    cos, sin = Rope3D(D).cuda().tables(torch.arange(12, 12 + F, device="cuda"), h, w)
    q, k, v = (torch.randn(B, L, dim, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    idx = (torch.arange(L, device="cuda") + 3 * h * w) % S              # slots of a steady block
    ck, cv = (torch.zeros(B, S, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    mask = torch.ones(B, dtype=torch.bool, device="cuda")

    def q_ref():
        return apply_rope(norm(q).view(B, L, H, D), cos, sin).flatten(2)

    def k_ref():
        ck.index_copy_(1, idx, apply_rope(norm(k).view(B, L, H, D), cos, sin))
        cv.index_copy_(1, idx, v.view(B, L, H, D))

    def q_kernel():
        return kv_kernel.norm_rope(q, norm.weight, norm.eps, cos, sin)

    def k_kernel():
        kv_kernel.norm_rope_write(k, v, norm.weight, norm.eps, cos, sin, idx, mask, False, ck, cv)

    configs = [dict(zip(("ROWS", "num_warps"), c)) for c in itertools.product((1, 2, 4, 8), (4, 8))]
    out = {"device": torch.cuda.get_device_name(), "tokens": L, "dim": dim, "cache_slots": S, "paths": {}}
    with torch.no_grad():
        want_q = q_ref().float()
        k_ref()
        want_k, want_v = ck.float().clone(), cv.clone()
        for path, ref, kern, nbytes in (("Q norm + RoPE", q_ref, q_kernel, 2 * L * dim * 2),
                                        ("K norm + RoPE + K, V slot writes", k_ref, k_kernel, 4 * L * dim * 2)):
            variants = [("Inductor (compiled model code)", torch.compile(ref), None)]
            variants += [("kernel ROWS=%d num_warps=%d" % (c["ROWS"], c["num_warps"]), kern, c) for c in configs]
            rows = []
            for name, fn, c in variants:
                if c is not None:
                    kv_kernel.CONFIG = c
                ck.zero_(), cv.zero_()
                us = graph_median_us(fn, calls=20)
                got = fn()
                if got is None:
                    err = (ck.float() - want_k).abs().max().item()
                    assert torch.equal(cv, want_v), name
                else:
                    err = (got.float() - want_q).abs().max().item()
                rows.append({"variant": name, "us": us, "gb_s": nbytes / us / 1e3, "max_abs_diff": err, "config": c})
            out["paths"][path] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"{out['device']}: {L} tokens x {dim}, BF16, per call")
    for path, rows in out["paths"].items():
        print(path)
        for r in sorted(rows, key=lambda r: r["us"]):
            print(f"  {r['variant']:34s} {r['us']:6.1f} us {r['gb_s']:6.0f} GB/s  max abs diff {r['max_abs_diff']:.1e}")


if __name__ == "__main__":
    main()
