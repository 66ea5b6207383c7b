"""The VAE head conv (96 -> 3 channels, 3x3x3, 480x832, 4 output frames from 6) alone on the GPU: cuDNN (timed
choice, channels-last, as the pipeline runs it) against compile/vae_kernel.py's Triton kernel at several tiles
(BLOCK_H, BLOCK_W, num_warps). CUDA events, 5 warm-up calls, median of 20; each kernel's max abs difference from
cuDNN's output (BF16) and from a float32 reference. Prints one table; `--json PATH` writes the rows.

    python benchmarks/vae_head_bench.py
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile import vae_kernel  # noqa: E402

TILES = [(8, 32, 4), (8, 32, 8), (16, 16, 4), (16, 16, 8), (4, 64, 4), (4, 64, 8), (8, 64, 8), (16, 32, 8),
         (4, 32, 4), (2, 64, 4)]


def median_us(fn, warmup=5, iters=20):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(1, 96, 6, 480, 832, device="cuda", generator=g).to(torch.bfloat16)
    x = x.contiguous(memory_format=torch.channels_last_3d)
    w = (torch.randn(3, 96, 3, 3, 3, device="cuda", generator=g) / 50).to(torch.bfloat16)
    w = w.contiguous(memory_format=torch.channels_last_3d)
    ref32 = vae_kernel.head_conv_reference(x.float(), w.float())
    cudnn = lambda: vae_kernel.head_conv_reference(x, w)                       # noqa: E731
    rows = [{"variant": "cudnn", "us": median_us(cudnn),
             "max_abs_diff_vs_fp32": (cudnn().float() - ref32).abs().max().item(), "max_abs_diff_vs_cudnn": 0.0}]
    base = cudnn().float()
    for tile in TILES:
        fn = lambda: vae_kernel.head_conv_launch(x, w, tile)                    # noqa: E731
        try:
            us = median_us(fn)
        except Exception as e:                                                  # e.g. out of shared memory
            rows.append({"variant": f"triton {tile}", "error": str(e)[:200]})
            continue
        out = fn().float()
        rows.append({"variant": f"triton {tile}", "tile": tile, "us": us,
                     "max_abs_diff_vs_fp32": (out - ref32).abs().max().item(),
                     "max_abs_diff_vs_cudnn": (out - base).abs().max().item()})
    res = {"device": torch.cuda.get_device_name(), "input": list(x.shape), "weight": list(w.shape), "rows": rows,
           "ref_abs_max": ref32.abs().max().item()}
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    print(f"{res['device']}: VAE head conv {tuple(x.shape)} x {tuple(w.shape)} BF16 (outputs up to "
          f"{res['ref_abs_max']:.2f})")
    for r in rows:
        if "error" in r:
            print(f"{r['variant']:24s} failed: {r['error']}")
        else:
            print(f"{r['variant']:24s} {r['us']:8.1f} us  diff vs fp32 {r['max_abs_diff_vs_fp32']:.2e}  "
                  f"vs cuDNN {r['max_abs_diff_vs_cudnn']:.2e}")


if __name__ == "__main__":
    main()
