"""Time the FFN hidden's GELU + row-wise FP8 quantization alone on the GPU: compile/fp8_kernel.py's kernel against
the same math compiled by Inductor (what the fp8dq_row path runs without lever fp8_gelu), [4680, 8960] BF16.
(Its run of 2026-11-26 10:04Z also timed a `fast` variant, approximate tanh: 91 vs 120 us, dropped: row 40.)
CUDA events, 10 warm-up calls, median of 50. Prints one table; `--json PATH` writes the row.

    python benchmarks/fp8_gelu_bench.py
"""
import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile import fp8_kernel  # noqa: E402
from benchmarks.cuda_timing import event_median_us  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4680)
    ap.add_argument("--cols", type=int, default=8960)
    ap.add_argument("--json")
    args = ap.parse_args()
    h = torch.randn(args.rows, args.cols, device="cuda").to(torch.bfloat16)
    moved = h.numel() * 3 + args.rows * 4                     # BF16 read, FP8 written, scales
    inductor = torch.compile(fp8_kernel.gelu_fp8_rows_reference)
    kernels = {"inductor": inductor, "kernel": fp8_kernel.gelu_fp8_rows}
    rows = {name: event_median_us(lambda: fn(h), warmup=10, iters=50) for name, fn in kernels.items()}
    rq, rs = fp8_kernel.gelu_fp8_rows_reference(h)
    same = {}
    for name in ("kernel",):
        q, s = kernels[name](h)
        same[name] = {"fp8_bytes_equal": (q.view(torch.uint8) == rq.view(torch.uint8)).float().mean().item(),
                      "scales_equal": (s == rs).float().mean().item()}
    out = {"device": torch.cuda.get_device_name(), "shape": [args.rows, args.cols], "us": rows,
           "tb_per_s": {k: moved / v / 1e6 for k, v in rows.items()}, "against_reference": same}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"{out['device']}, GELU + row-wise FP8 quantization of [{args.rows}, {args.cols}] BF16")
    for k, v in rows.items():
        extra = same.get(k)
        extra = f"  FP8 bytes equal {extra['fp8_bytes_equal']:.6f}, scales {extra['scales_equal']:.6f}" if extra else ""
        print(f"{k:12s} {v:8.1f} us  {out['tb_per_s'][k]:.2f} TB/s{extra}")


if __name__ == "__main__":
    main()
