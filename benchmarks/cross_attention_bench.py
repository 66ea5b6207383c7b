"""Time the DiT's cross-attention alone on the GPU, at the reference run's shape (q [1, 4680, 12, 128], k and v
[1, 512, 12, 128] BF16): the model's backends fa3 (the default) and sdpa_cudnn as its attention calls them,
SDPA's flash (FA2) / memory-efficient kernels, two batched GEMMs with a float32 softmax compiled by Inductor. A
backend this machine lacks gets a row saying why. (A Triton kernel of our own, one program per 64-128
queries of a head through all 512 keys, ran 63.6 us at its best of 16 configurations against FA3's 32.9 on the
H100 and was removed: commit 256bae7 has it; OPTIMIZATION_LOG.md row 51.) Each variant's 20 calls are captured
in one CUDA graph and the replays timed (benchmarks/cuda_timing.py, per call), with the TFLOP/s of its
4 Lq Lk D H FLOPs and its max abs / relative L2 difference from float64 attention of the same inputs. Prints one
table, fastest first; `--json PATH` writes the rows.

    python benchmarks/cross_attention_bench.py
"""
import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.cuda_timing import graph_median_us  # noqa: E402
from compile.backends import UNAVAILABLE, register_optional_backends  # noqa: E402
from model.attention import backend_fn  # noqa: E402


def sdpa_with(backend):
    def run(q, k, v):
        with sdpa_kernel([backend]):
            out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return out.transpose(1, 2)
    return run


def gemms(q, k, v):
    s = torch.einsum("bqhd,bkhd->bhqk", q, k).float() * q.shape[-1] ** -0.5
    return torch.einsum("bhqk,bkhd->bqhd", s.softmax(-1).to(q.dtype), v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--queries", type=int, default=4680)
    ap.add_argument("--keys", type=int, default=512)
    args = ap.parse_args()
    B, Lq, Lk, H, D = 1, args.queries, args.keys, 12, 128
    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(B, Lq, H, D, device="cuda", generator=g).to(torch.bfloat16)
    k, v = (torch.randn(B, Lk, H, D, device="cuda", generator=g).to(torch.bfloat16) for _ in range(2))
    have = register_optional_backends()             # the model's own backends (fa3, sdpa_cudnn), as it calls them
    own = [name for name in ("fa3", "sdpa_cudnn") if name in have]
    variants = {name: backend_fn(name) for name in own}
    variants.update({"sdpa flash (FA2)": sdpa_with(SDPBackend.FLASH_ATTENTION),
                     "sdpa efficient": sdpa_with(SDPBackend.EFFICIENT_ATTENTION),
                     "gemms, compiled": torch.compile(gemms, fullgraph=True)})
    with torch.no_grad():
        ref = torch.einsum("bqhd,bkhd->bhqk", q.double(), k.double()) * D ** -0.5
        ref = torch.einsum("bhqk,bkhd->bqhd", ref.softmax(-1), v.double())
        rows = [{"variant": name, "error": UNAVAILABLE[name]} for name in ("fa3", "sdpa_cudnn") if name not in own]

        def measure(name, fn):
            try:
                us = graph_median_us(lambda: fn(q, k, v), calls=20)
                out = fn(q, k, v).double()
                rows.append({"variant": name, "us": us, "tflop_s": 4 * B * Lq * Lk * H * D / us / 1e6,
                             "max_abs_diff": (out - ref).abs().max().item(),
                             "rel_l2": ((out - ref).norm() / ref.norm()).item()})
            except Exception as e:                  # a kernel this machine lacks: say so, go on
                rows.append({"variant": name, "error": f"{type(e).__name__}: {e}"[:200]})
        for name, fn in variants.items():
            measure(name, fn)
    out = {"device": torch.cuda.get_device_name(), "shape": {"B": B, "Lq": Lq, "Lk": Lk, "H": H, "D": D},
           "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"{out['device']}: cross-attention q [{B}, {Lq}, {H}, {D}], k/v [{B}, {Lk}, {H}, {D}] BF16, per call")
    for r in sorted(rows, key=lambda r: r.get("us", float("inf"))):
        if "error" in r:
            print(f"{r['variant']:58s} {r['error']}")
        else:
            print(f"{r['variant']:58s} {r['us']:7.1f} us {r['tflop_s']:6.1f} TFLOP/s  max abs {r['max_abs_diff']:.1e}"
                  f"  rel L2 {r['rel_l2']:.1e}")


if __name__ == "__main__":
    main()
