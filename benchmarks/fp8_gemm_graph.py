"""What one FP8 GEMM of the fp8dq_row path costs inside a CUDA graph, and what runs with it.

The FP8 block profile of the defaults (2026-11-26T2029Z) shows a `Memset` before each of the 1192 FP8 GEMMs of a
block (8 a layer call) and ~2.5 us of idle between it and the GEMM: ~3.9 ms a block that the BF16 path does not
pay. This times `torch._scaled_mm` (row-wise e4m3, the call model.wan.linear makes: torchao's) at the model's three
GEMM shapes, 20 calls in one CUDA graph, with variants that may lose the memset: no bias (the bias then a separate
add), the output preallocated (`out=`), the other accumulation mode; and the BF16 GEMM for scale. For each, the
kernels one replay runs (torch.profiler), by name and count per call.

    python benchmarks/fp8_gemm_graph.py [--json PATH]
"""
import argparse
import collections
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.cuda_timing import captured, graph_median_us  # noqa: E402

SHAPES = {"q/k/v/o [4680,1536]x[1536,1536]": (4680, 1536, 1536), "FFN up [4680,1536]x[1536,8960]": (4680, 1536, 8960),
          "FFN down [4680,8960]x[8960,1536]": (4680, 8960, 1536)}
CALLS = 20


def kernels_of_one_replay(fn):
    """Kernel names (and counts per call) of a CUDA graph of CALLS calls of fn, from one profiled replay."""
    graph = captured(fn, calls=CALLS)
    graph.replay()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        graph.replay()
        torch.cuda.synchronize()
    counts = collections.Counter(e.name for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)
    return {name[:90]: n / CALLS for name, n in counts.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    g = torch.Generator(device="cuda").manual_seed(0)
    rows = []
    for label, (m, k, n) in SHAPES.items():
        a16 = torch.randn(m, k, device="cuda", generator=g).to(torch.bfloat16)
        w16 = (torch.randn(n, k, device="cuda", generator=g) / k ** 0.5).to(torch.bfloat16)
        bias = (0.02 * torch.randn(n, device="cuda", generator=g)).to(torch.bfloat16)
        sa = a16.abs().amax(1, keepdim=True).float() / 448
        sw = w16.abs().amax(1, keepdim=True).float() / 448
        a8 = (a16.float() / sa).to(torch.float8_e4m3fn)
        w8t = (w16.float() / sw).to(torch.float8_e4m3fn).t()          # [k, n] column-major, as torchao holds it
        sw = sw.reshape(1, -1)
        out = torch.empty(m, n, device="cuda", dtype=torch.bfloat16)
        variants = {
            "torchao's call (bias, fast accum)": lambda: torch._scaled_mm(a8, w8t, scale_a=sa, scale_b=sw, bias=bias,
                                                                         out_dtype=torch.bfloat16, use_fast_accum=True),
            "no bias": lambda: torch._scaled_mm(a8, w8t, scale_a=sa, scale_b=sw, out_dtype=torch.bfloat16,
                                                use_fast_accum=True),
            "out= preallocated": lambda: torch._scaled_mm(a8, w8t, scale_a=sa, scale_b=sw, bias=bias,
                                                          out_dtype=torch.bfloat16, use_fast_accum=True, out=out),
            "slow accum": lambda: torch._scaled_mm(a8, w8t, scale_a=sa, scale_b=sw, bias=bias,
                                                   out_dtype=torch.bfloat16, use_fast_accum=False),
            "BF16 F.linear": lambda: F.linear(a16, w16, bias),
        }
        for name, fn in variants.items():
            try:
                us = graph_median_us(fn, calls=CALLS)
                kern = kernels_of_one_replay(fn)
            except Exception as e:                                      # a variant this torch refuses: recorded
                rows.append({"shape": label, "variant": name, "error": repr(e)[:200]})
                continue
            rows.append({"shape": label, "variant": name, "us": us, "tflops": 2 * m * k * n / us / 1e6,
                         "kernels_per_call": kern})
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"{out['device']}, torch {out['torch']}: one GEMM in a CUDA graph of {CALLS} (median per call)")
    for r in rows:
        if "error" in r:
            print(f"{r['shape']:34s} {r['variant']:34s} failed: {r['error'][:90]}")
            continue
        kern = ", ".join(f"{v:g}x {k[:40]}" for k, v in r["kernels_per_call"].items())
        print(f"{r['shape']:34s} {r['variant']:34s} {r['us']:7.1f} us {r['tflops']:6.0f} TFLOP/s  {kern}")


if __name__ == "__main__":
    main()
