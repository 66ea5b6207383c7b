"""Microbenchmark of the levers the block profile points at (BENCHMARKS.md kernel appendix), at the real
shapes of one layer (4680 tokens, dim 1536, 12 heads x 128, a 12-frame ring cache):

  K/V write: the K RMSNorm + RoPE + ring-cache write (the model's code) took ~81 us per layer call on
  the H100 against ~10 us for the same norm + RoPE of Q; variants split where the time goes, and the
  Triton kernel of the `kv_write` lever (compile/kv_kernel.py) replaces it.
  GEMMs: q, k, v as three GEMMs or one; FFN up-projection + GELU as GEMM + Triton kernel or one cuBLASLt
  GEMM with the GELU epilogue.

    python benchmarks/kpath_bench.py [OUT_DIR]

Each variant is torch.compile'd (mode default) and timed with CUDA events (median of 30 repeats of 10
calls, after warm-up). Writes kpath_bench.json (and the generated kernel of the model's K path) to
OUT_DIR; prints a table last. Needs CUDA.

Caution, learnt from its run (H100, 2026-11-26, `benchmarks/results/2026-11-26T0229Z_h100_kpath_bench.json`):
the calls are issued from a Python loop, and for kernels of 10-100 us the host (Dynamo's guards, the
launches) sets the pace, so these figures rank the variants only coarsely (e.g. norm + RoPE alone reads
85 us here and 10-30 us inside a block). The kernel times BENCHMARKS.md quotes come from the block
profiles (`scripts/profile_block.py`).
"""
import json
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.kv_cache import RingPlan  # noqa: E402
from model.rope import Rope3D, apply_rope  # noqa: E402
from model.wan import RMSNorm  # noqa: E402
from compile.kv_kernel import fused_kv_write  # noqa: E402

L, DIM, H, D, FFN = 4680, 1536, 12, 128, 8960
SLOTS_T = 12 * 1560


def timed(fn, *args, reps=30, inner=10):
    for _ in range(3):
        fn(*args)
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(inner):
            fn(*args)
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e3 / inner)
    return statistics.median(times)


def rope_pairswap(x, cos, sin):
    """Same float32 arithmetic as apply_rope, as x * cos' + swap(x) * sin' with per-element tables."""
    xf = x.float()
    swapped = xf.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)
    c = cos.repeat_interleave(2, -1)
    s = torch.stack([-sin, sin], dim=-1).flatten(-2)
    return (xf * c + swapped * s).to(x.dtype)


def main(out_dir: Path):
    torch.manual_seed(0)
    dev, bf = "cuda", torch.bfloat16
    norm = RMSNorm(DIM, 1e-6).to(dev, bf)
    rope = Rope3D(D).to(dev)
    cos, sin = rope.tables(torch.arange(9, 12, device=dev), 30, 52)
    kl = torch.randn(1, L, DIM, device=dev, dtype=bf)
    vl = torch.randn(1, L, DIM, device=dev, dtype=bf)
    ck = torch.zeros(1, SLOTS_T, H, D, device=dev, dtype=bf)
    cv = torch.zeros_like(ck)
    idx = torch.arange(3 * 1560 * 3, 3 * 1560 * 4, device=dev)        # slots 9-11 (a steady block)
    plan = RingPlan(torch.arange(9, 12, device=dev), idx, SLOTS_T, None)

    def model_kpath(kl, vl, ck, cv):          # wan.SelfAttention's K/V part (in the model attention reads
        k = apply_rope(norm(kl).view(1, L, H, D), cos, sin)   # the keys in the same graph: nothing returned)
        plan.write_and_read(ck, cv, k, vl.view(1, L, H, D))

    def prologue_only(kl):
        return apply_rope(norm(kl).view(1, L, H, D), cos, sin)

    def pairswap_kpath(kl, vl, ck, cv):
        k = rope_pairswap(norm(kl).view(1, L, H, D), cos, sin)
        ck.index_copy_(1, idx, k)
        cv.index_copy_(1, idx, vl.view(1, L, H, D))

    def flat_kpath(kl, vl, ck, cv):                                    # the cache as [tokens, H*D] rows
        k = apply_rope(norm(kl).view(1, L, H, D), cos, sin)
        ck.view(SLOTS_T, DIM).index_copy_(0, idx, k.view(L, DIM))
        cv.view(SLOTS_T, DIM).index_copy_(0, idx, vl.view(L, DIM))

    def slice_kpath(kl, vl, ck, cv):                                   # a host-known offset (lower bound)
        k = apply_rope(norm(kl).view(1, L, H, D), cos, sin)
        ck[:, 3 * 4680:4 * 4680].copy_(k)
        cv[:, 3 * 4680:4 * 4680].copy_(vl.view(1, L, H, D))

    compiled_prologue = torch.compile(prologue_only, fullgraph=True)

    def split_kpath(kl, vl, ck, cv):                                   # compiled prologue, eager writes
        k = compiled_prologue(kl)
        ck.index_copy_(1, idx, k)
        cv.index_copy_(1, idx, vl.view(1, L, H, D))

    rows = []
    from torch._inductor.utils import run_and_get_code
    cm = torch.compile(model_kpath, fullgraph=True)
    _, code = run_and_get_code(cm, kl, vl, ck, cv)
    (out_dir / "kpath_model_kernel.py").write_text("\n\n".join(code))
    rows.append(("K/V write: model code (norm + RoPE + index_copy_, fused)", timed(cm, kl, vl, ck, cv)))
    rows.append(("  norm + RoPE only, no cache write", timed(compiled_prologue, kl)))
    def triton_kpath(kl, vl, ck, cv):
        fused_kv_write(kl, vl, norm, cos, sin, plan, ck, cv)
    triton_kpath = torch.compile(triton_kpath, fullgraph=True)
    rows.append(("  Triton kernel (lever kv_write), compiled", timed(triton_kpath, kl, vl, ck, cv)))
    rows.append(("  split: compiled norm + RoPE, eager index_copy_ x2", timed(split_kpath, kl, vl, ck, cv)))
    for name, fn in (("  pair-swap RoPE form + index_copy_", pairswap_kpath),
                     ("  cache as [tokens, H*D] rows + index_copy_", flat_kpath),
                     ("  contiguous slice copy (host offset; lower bound)", slice_kpath)):
        rows.append((name, timed(torch.compile(fn, fullgraph=True), kl, vl, ck, cv)))
    ref = torch.zeros_like(ck)
    model_kpath(kl, vl, ref, torch.zeros_like(cv))
    got = torch.zeros_like(ck)
    pairswap_kpath(kl, vl, got, torch.zeros_like(cv))
    rows.append(("  (pair-swap form equals the model's K: max abs diff)", (got - ref).abs().max().item()))

    x = torch.randn(L, DIM, device=dev, dtype=bf)
    wq, wk, wv = (torch.randn(DIM, DIM, device=dev, dtype=bf) * DIM ** -0.5 for _ in range(3))
    bq, bk, bv = (torch.randn(DIM, device=dev, dtype=bf) * 0.02 for _ in range(3))
    wqkv, bqkv = torch.cat([wq, wk, wv]), torch.cat([bq, bk, bv])
    three = torch.compile(lambda x: (F.linear(x, wq, bq), F.linear(x, wk, bk), F.linear(x, wv, bv)), fullgraph=True)
    one = torch.compile(lambda x: F.linear(x, wqkv, bqkv).chunk(3, -1), fullgraph=True)
    rows.append(("q, k, v: three GEMMs 1536x1536", timed(three, x)))
    rows.append(("q, k, v: one GEMM 1536x4608", timed(one, x)))
    w1, b1 = torch.randn(FFN, DIM, device=dev, dtype=bf) * DIM ** -0.5, torch.randn(FFN, device=dev, dtype=bf) * 0.02
    plain = torch.compile(lambda x: F.gelu(F.linear(x, w1, b1), approximate="tanh"), fullgraph=True)
    epi = torch.compile(lambda x: torch._addmm_activation(b1, x, w1.t(), use_gelu=True), fullgraph=True)
    rows.append(("FFN up + GELU: GEMM + Triton GELU", timed(plain, x)))
    rows.append(("FFN up + GELU: cuBLASLt GELU epilogue", timed(epi, x)))
    ref, got = plain(x).float(), epi(x).float()
    rows.append(("  (epilogue vs GEMM + GELU(tanh): rel. L2)", ((got - ref).norm() / ref.norm()).item()))

    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
              "rows": [{"what": n, "value": v} for n, v in rows]}
    (out_dir / "kpath_bench.json").write_text(json.dumps(result, indent=1))
    print(f"\n{result['device']}: one layer call at the real shapes, microseconds (medians)")
    for n, v in rows:
        print(f"{n:<62} {v:10.3g}")


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    main(out)
