"""Sweep the shape of the FP8 path's row-quantization kernels alone on the GPU (H100, 2026-11-26T2025Z: lever
fp8_gelu's kernel as it is was the fastest, 77.6 us; the quantization alone 6.2-7.1 us against Inductor's 14.7, which
as lever fp8_o gained 1.005x in the model: OPTIMIZATION_LOG.md rows 58-59):

- GELU + row-wise e4m3 quantization of the FFN hidden [4680, 8960] (lever fp8_gelu's kernel: 125 us a call in the
  model, ~1 TB/s of the 126 MB it must move; one 16-warp program per row: latency-bound, predicted). Variants hold
  ROWS rows per program as a [ROWS, 8192] + [ROWS, 1024] block with `num_warps` warps; the per-element math is the
  kernel's own (libdevice tanh, BF16 rounding, division by the scale), so the bytes must equal
  `fp8_kernel.gelu_fp8_rows`'s exactly (the row amax is order-free).
- Row-wise e4m3 quantization alone of [4680, 1536] (what the attention outputs need before the FP8 O projections:
  Inductor's looped reduction, 15.9 us a call, 298 a block in the 09:21Z FP8 profile), the same kernel without the
  GELU (1024 + 512 lanes), against Inductor's compile of `fp8_kernel.quantize_rows_reference`.

Each variant's 20 calls replayed from one CUDA graph (benchmarks/cuda_timing.graph_median_us), median per call.
Prints one table; `--json PATH` writes the rows.

    python benchmarks/fp8_rows_sweep.py
"""
import argparse
import json
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl
from torch._inductor.runtime.triton_helpers import libdevice

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile import fp8_kernel  # noqa: E402
from compile.backends import FP8_MAX  # noqa: E402
from benchmarks.cuda_timing import graph_median_us  # noqa: E402


@triton.jit
def _load_gelu(ptr, m, GELU: tl.constexpr):
    x = tl.load(ptr, mask=m, other=0.0).to(tl.float32)
    if GELU:
        u = 0.7978845608028654 * (x + 0.044715 * x * x * x)
        x = (0.5 * x * (1.0 + libdevice.tanh(u))).to(tl.bfloat16).to(tl.float32)
    return x


@triton.jit
def _rows_fp8_kernel(h_ptr, q_ptr, s_ptr, M, N, A: tl.constexpr, B: tl.constexpr, ROWS: tl.constexpr,
                     GELU: tl.constexpr, FMAX: tl.constexpr):
    """ROWS rows of N = A + (at most B) elements per program, held in registers: (GELU,) amax, scale, e4m3."""
    r = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    rm = r < M
    base = r.to(tl.int64)[:, None] * N
    ca = tl.arange(0, A)[None, :]
    ma = rm[:, None] & (ca < N)
    ga = _load_gelu(h_ptr + base + ca, ma, GELU)
    amax = tl.max(tl.abs(ga), axis=1)
    if B > 0:
        cb = A + tl.arange(0, B)[None, :]
        mb = rm[:, None] & (cb < N)
        gb = _load_gelu(h_ptr + base + cb, mb, GELU)
        amax = tl.maximum(amax, tl.max(tl.abs(gb), axis=1))
    scale = (amax / FMAX).to(tl.bfloat16).to(tl.float32)
    scale = tl.where(scale == 0.0, 1.0, scale)[:, None]
    tl.store(q_ptr + base + ca, tl.minimum(tl.maximum(ga / scale, -FMAX), FMAX).to(tl.float8e4nv), mask=ma)
    if B > 0:
        tl.store(q_ptr + base + cb, tl.minimum(tl.maximum(gb / scale, -FMAX), FMAX).to(tl.float8e4nv), mask=mb)
    tl.store(s_ptr + r[:, None], scale, mask=rm[:, None])


def rows_fp8(h, rows: int, warps: int, gelu: bool):
    M, N = h.shape
    q = torch.empty((M, N), dtype=torch.float8_e4m3fn, device=h.device)
    s = torch.empty((M, 1), dtype=torch.float32, device=h.device)
    a = 1 << (N.bit_length() - 1)
    b = triton.next_power_of_2(N - a) if N > a else 0
    _rows_fp8_kernel[(triton.cdiv(M, rows),)](h, q, s, M, N, A=a, B=b, ROWS=rows, GELU=gelu, FMAX=FP8_MAX,
                                              num_warps=warps)
    return q, s


def equal(got, want):
    (q, s), (rq, rs) = got, want
    return {"fp8_bytes_equal": (q.view(torch.uint8) == rq.view(torch.uint8)).float().mean().item(),
            "scales_equal": (s == rs).float().mean().item()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    g = torch.Generator(device="cuda").manual_seed(0)
    out = {"device": torch.cuda.get_device_name(), "rows": []}
    for name, shape, gelu in (("gelu + quantize, FFN hidden", (4680, 8960), True),
                              ("quantize, attention output", (4680, 1536), False)):
        h = (torch.randn(*shape, device="cuda", generator=g) * 2).to(torch.bfloat16)
        moved = h.numel() * 3 + shape[0] * 4                 # BF16 read, e4m3 written, scales
        if gelu:
            ref = fp8_kernel.gelu_fp8_rows(h)                 # the lever's kernel: the bytes to match
            base = {"lever fp8_gelu's kernel": lambda: fp8_kernel.gelu_fp8_rows(h),
                    "Inductor": lambda f=torch.compile(fp8_kernel.gelu_fp8_rows_reference): f(h)}
        else:
            ref = fp8_kernel.quantize_rows_reference(h)
            base = {"Inductor": lambda f=torch.compile(fp8_kernel.quantize_rows_reference): f(h)}
        variants = dict(base)
        for rows in (1, 2, 4):
            for warps in (4, 8, 16, 32):
                variants[f"rows {rows}, warps {warps}"] = lambda r=rows, w=warps: rows_fp8(h, r, w, gelu)
        for label, fn in variants.items():
            try:
                us = graph_median_us(fn)
                check = equal(fn(), ref)
            except Exception as e:                            # a shape Triton cannot build (registers): recorded
                out["rows"].append({"kernel": name, "variant": label, "error": repr(e)[:200]})
                continue
            out["rows"].append({"kernel": name, "variant": label, "us": us, "tb_per_s": moved / us / 1e6, **check})
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"{out['device']}: row-wise e4m3 kernels, alone, per call (CUDA graph replays)")
    for r in out["rows"]:
        if "error" in r:
            print(f"{r['kernel']:28s} {r['variant']:26s} failed: {r['error'][:80]}")
        else:
            print(f"{r['kernel']:28s} {r['variant']:26s} {r['us']:7.1f} us {r['tb_per_s']:5.2f} TB/s  "
                  f"bytes equal {r['fp8_bytes_equal']:.6f} scales {r['scales_equal']:.6f}")


if __name__ == "__main__":
    main()
