"""The VAE's fused norm kernel (compile/vae_kernel.py) alone on the GPU at the full-resolution call of a steady
pass (96 channels read as the first 96 of the 128-channel padded conv output, 2 history + 4 new frames,
480x832, BF16), at several tiles (elements a program holds, num_warps) against the default (NORM_TILE).
Each variant's 10 calls are replayed from one CUDA graph (CUDA events, 3 warm-up replays, median of 20, per
call); GB moved per call (the new frames and the history read once, the conv input and the new history
written once). Prints one table; `--json PATH` writes the rows. (Its run of 2026-11-26 11:21Z compared each
tile's output against the default's on different histories, the timed calls having updated it: its
`same_as_default` column is void; fixed since, not re-run.)

    python benchmarks/vae_norm_bench.py
"""
import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile import vae_kernel  # noqa: E402
from benchmarks.cuda_timing import graph_median_us  # noqa: E402

TILES = [(2048, 4), (4096, 4), (4096, 8), (8192, 8), (8192, 16), (16384, 16)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    cl = torch.channels_last_3d
    g = torch.Generator(device="cuda").manual_seed(0)
    c, t, h, w = 96, 4, 480, 832
    x = torch.randn(1, 128, t, h, w, device="cuda", generator=g).to(torch.bfloat16).contiguous(memory_format=cl)[:, :c]
    hist = torch.randn(1, c, 2, h, w, device="cuda", generator=g).to(torch.bfloat16).contiguous(memory_format=cl)
    gamma = torch.rand(c, device="cuda", generator=g).to(torch.bfloat16) + 0.5
    bias = torch.randn(c, device="cuda", generator=g).to(torch.bfloat16)
    gb = (t + 2 + (t + 2) + 2) * c * h * w * 2 / 1e9           # read x and hist, write the input and the history
    hist0 = hist.clone()                                          # the timed calls update `hist` in place
    ref = vae_kernel.norm_silu_history_tiled(x, hist0.clone(), bias, True, gamma, c ** 0.5, vae_kernel.EPS, None)
    rows = []
    for tile in TILES:
        fn = lambda: vae_kernel.norm_silu_history_tiled(x, hist, bias, True, gamma, c ** 0.5,  # noqa: E731
                                                        vae_kernel.EPS, tile)
        try:
            us = graph_median_us(fn, calls=10, prime=2)
        except Exception as e:                                    # e.g. too many registers
            rows.append({"tile": tile, "error": str(e)[:200]})
            continue
        same = torch.equal(vae_kernel.norm_silu_history_tiled(x, hist0.clone(), bias, True, gamma, c ** 0.5,
                                                              vae_kernel.EPS, tile), ref)
        rows.append({"tile": tile, "us": us, "tb_s": gb / us * 1e3, "same_as_default": same})
    out = {"device": torch.cuda.get_device_name(), "default": list(vae_kernel.NORM_TILE), "gb": gb, "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"{out['device']}: VAE fused norm, full resolution, {c} of 128 channels, 2 + {t} frames, {gb:.2f} GB a call")
    for r in rows:
        if "error" in r:
            print(f"{str(r['tile']):14s} failed: {r['error']}")
        else:
            print(f"{str(r['tile']):14s} {r['us']:8.1f} us  {r['tb_s']:.2f} TB/s  same output as the default: "
                  f"{r['same_as_default']}")


if __name__ == "__main__":
    main()
