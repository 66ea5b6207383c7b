"""FP8 attention (FA3's e4m3 forward) against BF16, at the steady-state shape, with an attention sink.

    python benchmarks/fp8_attention.py [--out DIR]          # needs a Hopper GPU and the fa3-fwd wheel

1. Speed: `fa3` (BF16) and `fa3_fp8` (compile/backends.py: per-(sample, head) dynamic scales, the
   casts included), eager and under torch.compile (the casts fuse), 4680 queries x 18720 keys, 12
   heads x 128 (SPEC.md section 3). CUDA events, 5 warm-up and 20 timed calls, median.
2. The sink risk: FA3's FP8 forward casts exp(score - row max) to e4m3 before the PV product. When the
   sink frames take most of the probability mass, every other key's probability is small and may fall
   below e4m3's range (smallest normal 2^-6, subnormal 2^-9). We give the 4680 sink keys (the first 3
   of 12 frames) a logit advantage `boost` (a shared direction added to queries and sink keys) and
   measure, against float32 attention on 512 queries:
   - the sink's share of the mass, exactly: attention with v = 1 on sink keys and 0 elsewhere;
   - the relative L2 error of the non-sink part of the output (v random on non-sink keys, 0 on the
     sink): what underflow would destroy;
   - the relative L2 error of the whole output.
   Random q, k, v (unit-variance elements, as after Wan's q/k RMSNorm): this measures the kernel's
   numerics, not a trained model's attention; with real weights, measure the sink share of the model.
Writes fp8_attention.json to --out and prints the tables last.
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile.backends import register_optional_backends  # noqa: E402
from model.attention import backend_fn  # noqa: E402

B, LQ, H, D, FRAME, FRAMES, SINK = 1, 4680, 12, 128, 1560, 12, 3


def timed(fn, *args, warmup=5, iters=20):
    for _ in range(warmup):
        fn(*args)
    times = []
    for _ in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn(*args)
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    return statistics.median(times)


def rel(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()
    register_optional_backends()
    bf16, fp8 = backend_fn("fa3"), backend_fn("fa3_fp8")
    dev, g = "cuda", torch.Generator("cuda").manual_seed(0)
    lk = FRAME * FRAMES
    q, k, v = (torch.randn(B, n, H, D, device=dev, generator=g, dtype=torch.bfloat16) for n in (LQ, lk, lk))
    flops = 4 * B * LQ * lk * H * D
    speed = {}
    for name, fn in (("fa3 bf16", bf16), ("fa3_fp8", fp8)):
        speed[name + " eager"] = timed(fn, q, k, v)
        speed[name + " compiled"] = timed(torch.compile(fn, fullgraph=True), q, k, v)
    speed_rows = [{"kernel": n, "ms": ms, "tflops": flops / ms / 1e9} for n, ms in speed.items()]

    sink_keys = SINK * FRAME
    u = torch.zeros(D, device=dev)
    u[0] = 1.0
    qs = q[:, :512].float()
    rows = []
    for boost in (0.0, 2.0, 4.0, 6.0, 8.0, 10.0):
        a = (boost * D ** 0.5) ** 0.5                   # q.u * k.u / sqrt(D) = boost on sink keys only
        qb = (qs + a * u).to(torch.bfloat16)
        kb = k.float().clone()
        kb[:, :sink_keys] += a * u
        kb = kb.to(torch.bfloat16)
        ind = torch.zeros(B, lk, H, D, device=dev, dtype=torch.bfloat16)
        ind[:, :sink_keys] = 1.0
        v_non = v.clone()
        v_non[:, :sink_keys] = 0.0
        p = torch.softmax(torch.einsum("bqhd,bkhd->bhqk", qb.float(), kb.float()) * D ** -0.5, dim=-1)
        ref_share = p[..., :sink_keys].sum(-1).mean().item()
        ref_non = torch.einsum("bhqk,bkhd->bqhd", p, v_non.float())
        ref_all = torch.einsum("bhqk,bkhd->bqhd", p, v.float())
        del p
        row = {"boost": boost, "sink_share_fp32": ref_share}
        for name, fn in (("bf16", bf16), ("fp8", fp8)):
            row[f"sink_share_{name}"] = fn(qb, kb, ind).float()[..., 0].mean().item()
            row[f"nonsink_rel_err_{name}"] = rel(fn(qb, kb, v_non), ref_non)
            row[f"output_rel_err_{name}"] = rel(fn(qb, kb, v), ref_all)
        rows.append(row)
        torch.cuda.empty_cache()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "shape": [B, LQ, lk, H, D],
              "speed": speed_rows, "sink": rows}
    (out / "fp8_attention.json").write_text(json.dumps(result, indent=1))
    print(f"\n{result['device']}: attention {LQ} q x {lk} k, {H} heads x {D}")
    print(f"{'kernel':<22} {'ms':>7} {'TFLOP/s':>8}")
    for r in speed_rows:
        print(f"{r['kernel']:<22} {r['ms']:7.3f} {r['tflops']:8.0f}")
    print(f"\n{'boost':>5} {'sink share fp32/bf16/fp8':>26} {'non-sink err bf16/fp8':>22} {'output err bf16/fp8':>20}")
    for r in rows:
        print(f"{r['boost']:5.1f} {r['sink_share_fp32']:8.4f} {r['sink_share_bf16']:8.4f} {r['sink_share_fp8']:8.4f} "
              f"{r['nonsink_rel_err_bf16']:10.2e} {r['nonsink_rel_err_fp8']:10.2e} "
              f"{r['output_rel_err_bf16']:9.2e} {r['output_rel_err_fp8']:9.2e}")


if __name__ == "__main__":
    main()
