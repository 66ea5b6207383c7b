"""Attention kernels behind model.attention's one entry point, and the start-up probe that picks one.

Every backend takes q [B, Lq, H, D], k and v [B, Lk, H, D] (k, v may be prefix views of the cache)
and returns [B, Lq, H, D]; each is traceable by torch.compile (SDPA natively, FA3 through the
`fa3_fwd` wheel's own `torch.library.custom_op` with its fake implementation).
- `sdpa`: PyTorch picks the kernel (flash / efficient / cuDNN / math);
- `sdpa_cudnn`: SDPA restricted to cuDNN attention (the fastest SDPA kernel on H100, SPEC.md section 3);
- `fa3`: FlashAttention-3's Hopper forward (`pip install fa3-fwd`), BF16;
- `fa3_fp8`: the same kernel in FP8 (e4m3): q, k, v cast per call with one dynamic scale per (sample,
  head), the softmax probabilities in FP8 inside the kernel, output BF16 (quality: quant issue, the log);
- `flash_attn`: the `flash-attn` package (FlashAttention-2; the optional `flash` extra);
- `flex`: FlexAttention without a mask (fused only inside torch.compile; eager runs it unfused);
- `math`: plain float32 softmax attention, the yardstick.
"""
import logging

import torch
import torch.nn.functional as F

from model.attention import available_backends, backend_fn, math_reference, register_backend, set_backend

log = logging.getLogger("longlive_fast")


def _sdpa_cudnn(q, k, v):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2)


FA3_TILE = (128, 176)      # FA3's Hopper forward tile (queries, keys) for head dim 128, BF16, non-causal
# FA3's cost model on the H100 (fa3_num_splits, fa3_wave_plan; fitted by benchmarks/attn_split.py): microseconds a
# key tile, a CTA's fixed cost in key tiles, microseconds of the kernel that combines split partials
FA3_TILE_US, FA3_CTA_OVERHEAD_TILES, FA3_COMBINE_US = 1.82, 11.7, 7.0
_SMS = 0                   # the GPU's SM count (set when the FA3 backend is registered)
_SPLIT = False             # lever `split`: FA3 splits the keys to fill its last wave (set_fa3_split)
_WAVES = False             # lever `waves`: FA3 runs its whole waves unsplit and splits only the rest (set_fa3_waves)
_HALVES = False            # lever `halves`: batch-1 FA3 over the keys' two halves as a batch of 2 (set_fa3_halves)


def fa3_num_splits(batch: int, lq: int, lk: int, heads: int, sms: int, head_dim: int = 128, tile=FA3_TILE,
                   max_splits: int = 4, tile_us: float = FA3_TILE_US,
                   overhead_tiles: float = FA3_CTA_OVERHEAD_TILES, combine_us: float = FA3_COMBINE_US,
                   max_partial_bytes: int = 64 << 20, min_gain: float = 0.02) -> int:
    """How many parts FA3 should split the keys into so that its CTAs fill the GPU's waves. FA3 runs one CTA per
    (query tile, head, sample, split), one CTA per SM at a time, each walking its keys' tiles; the steady-state
    shape (4680 queries, 12 heads) gives 444 CTAs on 132 SMs: 4 waves, the last a third full. Cost model in
    microseconds: waves x (key tiles per CTA + `overhead_tiles` for its prologue and epilogue) x `tile_us`, plus
    `combine_us` for FA3's kernel that merges the float32 partials. Splits only while those partials stay about
    L2-sized (`max_partial_bytes`) and when it saves at least `min_gain`. The defaults are fitted to the H100
    (benchmarks/attn_split.py, BENCHMARKS.md: the model predicts every measured batch-1 shape within 5%; batch 2's
    115 MB of partials cost ~150 us to combine instead of 7, so larger batches stay whole)."""
    m_tiles = batch * heads * -(-lq // tile[0])
    n_tiles = -(-lk // tile[1])

    def cost(s):
        waves = -(-m_tiles * s // sms)
        return waves * (-(-n_tiles // s) + overhead_tiles) * tile_us + (combine_us if s > 1 else 0.0)
    best = 1
    for s in range(2, min(max_splits, n_tiles) + 1):
        if s * batch * heads * lq * head_dim * 4 <= max_partial_bytes and cost(s) < (1 - min_gain) * cost(best):
            best = s
    return best


def fa3_wave_plan(batch: int, lq: int, lk: int, heads: int, sms: int, tile=FA3_TILE, max_splits: int = 4,
                  tile_us: float = FA3_TILE_US, overhead_tiles: float = FA3_CTA_OVERHEAD_TILES,
                  combine_us: float = FA3_COMBINE_US, min_gain: float = 0.02):
    """Lever `waves`: split FA3's work so that only its last wave is split. The query tiles that fill whole waves
    run as one call with all keys (FA3's persistent scheduler: each SM walks the same number of tiles); the
    remaining query tiles run as a second call whose keys are split in parts, so that their CTAs, shorter, fill
    one round instead of leaving most SMs idle through a whole one. Unlike `split` (fa3_num_splits), only the
    tail's float32 partials are written and combined (5.6 MB at the steady shape instead of 57). Returns
    (query rows of the first call, key parts of the second) or None when the cost model of fa3_num_splits
    (same constants) saves less than `min_gain`. The steady batch-1 shape on 132 SMs: 33 of 37 query tiles a
    head (396 CTAs, 3 whole waves) and the last 4 tiles x 12 heads in 2 key parts (96 CTAs): 4 rounds become
    3.5, predicted 0.770 instead of 0.864 ms."""
    per_tile = batch * heads                      # CTAs per query tile (one per head and sample)
    m_tiles = -(-lq // tile[0])
    n_tiles = -(-lk // tile[1])
    total = per_tile * m_tiles
    main = (total // sms) * sms // per_tile       # query tiles a head that whole waves hold
    if main == 0 or main >= m_tiles:
        return None

    def rounds(ctas):
        return -(-ctas // sms)

    def cta_us(parts):
        return (-(-n_tiles // parts) + overhead_tiles) * tile_us
    one = rounds(total) * cta_us(1)
    best = None
    for s in range(2, min(max_splits, n_tiles) + 1):
        cost = rounds(per_tile * main) * cta_us(1) + rounds(per_tile * (m_tiles - main) * s) * cta_us(s) + combine_us
        if cost < (1 - min_gain) * one and (best is None or cost < best[0]):
            best = (cost, s)
    return (main * tile[0], best[1]) if best else None


@torch.library.custom_op("longlive::fa3_waves", mutates_args=())
def fa3_waves(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, main_rows: int, splits: int) -> torch.Tensor:
    """FA3 as two calls writing one output (lever `waves`, fa3_wave_plan): queries [0, main_rows) with all keys,
    the rest with the keys in `splits` parts. Opaque to the compiler (no concatenation copy)."""
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    _fa3_into(q[:, :main_rows], k, v, out[:, :main_rows], 1)
    _fa3_into(q[:, main_rows:], k, v, out[:, main_rows:], splits)
    return out


def _fa3_into(q, k, v, out, splits):
    """FA3's forward writing into `out` (a view): the wheel's C++ op, whose schema declares `out` as written
    (`Tensor(out!)? out`), called by keyword; its Python custom op refuses to return an output that aliases an
    argument."""
    import fa3_fwd_interface  # noqa: F401  (registers torch.ops.fa3_fwd)
    torch.ops.fa3_fwd.fwd(q, k, v, out=out, softmax_scale=q.shape[-1] ** -0.5, num_splits=splits)


def fa3_writes_into_out() -> bool:
    """Whether this machine's FA3 forward op takes `out`, `softmax_scale` and `num_splits` by keyword, as lever
    `waves` calls it (the fa3-fwd wheel's schema; another FA3 build may name them otherwise)."""
    try:
        import fa3_fwd_interface  # noqa: F401
        schema = torch.ops.fa3_fwd.fwd.default._schema
    except (ImportError, AttributeError, RuntimeError):
        return False
    return {"out", "softmax_scale", "num_splits"} <= {a.name for a in schema.arguments}


@fa3_waves.register_fake
def _(q, k, v, main_rows, splits):
    return torch.empty(q.shape, dtype=q.dtype, device=q.device)


def fa3_halves(q, k, v):
    """Lever `halves`: batch-1 attention as one FA3 call over the keys' two halves as a batch of 2 (views of the
    cache; the queries expanded, not copied), merged by their log-sum-exp: the whole softmax is the halves'
    softmaxes weighted by sigmoid(lse0 - lse1) and its complement. 2 x 444 CTAs (6.7 waves on 132 SMs) instead
    of 444 (3.4), and the merge is an elementwise kernel Inductor fuses (float32 math)."""
    from fa3_fwd_interface import _flash_attn_forward
    _, lk, h, d = k.shape
    half = lambda x: x.reshape(2, lk // 2, h, d)  # noqa: E731  (a view: the cache prefix is contiguous)
    out, lse = _flash_attn_forward(q.expand(2, *q.shape[1:]), half(k), half(v), softmax_scale=d ** -0.5)[:2]
    w = torch.sigmoid(lse[0] - lse[1]).transpose(0, 1).unsqueeze(-1)          # [Lq, H, 1]: the first half's weight
    return (out[1].float() + w * (out[0].float() - out[1].float())).to(q.dtype).unsqueeze(0)


def set_fa3_halves(on: bool) -> None:
    """Lever `halves` (compile/recipe.py): batch-1 FA3 calls whose CTAs leave a wave partly idle (fa3_wave_plan has
    a plan) run as fa3_halves; process-wide like `waves`, which it takes over."""
    global _HALVES
    _HALVES = bool(on)


def set_fa3_waves(on: bool) -> None:
    """Lever `waves` (compile/recipe.py): FA3 calls run per fa3_wave_plan (process-wide, like `split`)."""
    global _WAVES
    _WAVES = bool(on)


def set_fa3_split(on: bool) -> None:
    """Lever `split` (compile/recipe.py): FA3 calls split their keys per fa3_num_splits (process-wide, like the
    backend choice; a compiled graph guards on it)."""
    global _SPLIT
    _SPLIT = bool(on)


def _fa3(q, k, v):
    from fa3_fwd_interface import _flash_attn_forward
    plan = (fa3_wave_plan(q.shape[0], q.shape[1], k.shape[1], q.shape[2], _SMS)
            if (_WAVES or _HALVES) and _SMS and q.shape[3] == 128 else None)     # FA3_TILE is head dim 128's
    if plan and _HALVES and q.shape[0] == 1 and k.shape[1] % 2 == 0:
        return fa3_halves(q, k, v)
    if plan and _WAVES:
        return torch.ops.longlive.fa3_waves(q, k, v, *plan)
    splits = fa3_num_splits(q.shape[0], q.shape[1], k.shape[1], q.shape[2], _SMS, q.shape[3]) if _SPLIT and _SMS else 1
    return _flash_attn_forward(q, k, v, softmax_scale=q.shape[-1] ** -0.5, num_splits=splits)[0]


FP8_MAX = 448.0        # largest finite float8_e4m3fn


def fp8_per_head(x):
    """x [B, L, H, D] -> (x / scale in float8_e4m3fn, scale [B, H] float32): one scale per sample and head,
    amax / 448, so the largest element lands on e4m3's largest finite value."""
    amax = x.abs().amax(dim=(1, 3)).float().clamp_min(1e-12)               # [B, H]
    scale = amax / FP8_MAX
    return (x.float() / scale[:, None, :, None]).to(torch.float8_e4m3fn), scale


def _fa3_fp8(q, k, v):
    from fa3_fwd_interface import _flash_attn_forward
    (q8, qs), (k8, ks), (v8, vs) = fp8_per_head(q), fp8_per_head(k), fp8_per_head(v)
    out = _flash_attn_forward(q8, k8, v8, q_descale=qs, k_descale=ks, v_descale=vs,
                              softmax_scale=q.shape[-1] ** -0.5)[0]
    return out.to(q.dtype)


def _flash_attn(q, k, v):
    from flash_attn import flash_attn_func
    return flash_attn_func(q, k, v, softmax_scale=q.shape[-1] ** -0.5)


def _flex(q, k, v):
    from torch.nn.attention.flex_attention import flex_attention
    return flex_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2)


UNAVAILABLE: dict = {}     # backend name -> why this machine cannot run it (for the error message)
CUDA_ONLY = ("sdpa_cudnn", "fa3", "fa3_fp8", "flash_attn")     # backends that need a CUDA GPU


def register_optional_backends() -> list:
    """Register the backends this machine can run; returns their names."""
    global _SMS
    register_backend("flex", _flex)
    names = ["flex"]
    for name in CUDA_ONLY:
        UNAVAILABLE.setdefault(name, "needs a CUDA GPU")
    if torch.cuda.is_available():
        UNAVAILABLE.pop("sdpa_cudnn")
        register_backend("sdpa_cudnn", _sdpa_cudnn)
        names.append("sdpa_cudnn")
        try:
            import fa3_fwd_interface  # noqa: F401
            _SMS = torch.cuda.get_device_properties(torch.cuda.current_device()).multi_processor_count
            register_backend("fa3", _fa3)
            names.append("fa3")
            UNAVAILABLE.pop("fa3")
            if torch.cuda.get_device_capability() >= (9, 0):     # FA3's FP8 forward is Hopper-only
                register_backend("fa3_fp8", _fa3_fp8)
                names.append("fa3_fp8")
                UNAVAILABLE.pop("fa3_fp8")
            else:
                UNAVAILABLE["fa3_fp8"] = (f"needs a Hopper GPU (compute capability 9.0), not "
                                          f"{torch.cuda.get_device_name()}")
        except ImportError as e:
            UNAVAILABLE["fa3"] = UNAVAILABLE["fa3_fp8"] = f"needs the fa3-fwd wheel ({e})"
            log.info("attention backend fa3 unavailable: %s", e)
        try:
            import flash_attn  # noqa: F401
            register_backend("flash_attn", _flash_attn)
            names.append("flash_attn")
            UNAVAILABLE.pop("flash_attn")
        except ImportError as e:
            UNAVAILABLE["flash_attn"] = f"needs the flash-attn package, the `flash` extra ({e})"
            log.info("attention backend flash_attn unavailable: %s", e)
    return names


def probe(candidates, shape=(1, 4680, 18720, 12, 128), dtype=torch.bfloat16, device="cuda",
          tol: float = 2e-2, iters: int = 10):
    """Time each candidate on the steady-state attention shape (B, Lq, Lk, H, D); keep those within
    `tol` relative L2 of float32 attention; return (fastest name, {name: ms or reason})."""
    register_optional_backends()
    b, lq, lk, h, d = shape
    g = torch.Generator(device).manual_seed(0)
    q, k, v = (torch.randn(b, n, h, d, device=device, dtype=dtype, generator=g) for n in (lq, lk, lk))
    ref = math_reference(q[:, :512], k, v).float()
    results = {}
    for name in candidates:
        if name not in available_backends():
            results[name] = "not available"
            continue
        fn = backend_fn(name)
        try:
            err = ((fn(q[:, :512], k, v).float() - ref).norm() / ref.norm()).item()
            if not err <= tol:
                results[name] = f"numerical check failed (rel err {err:.2e})"
                continue
            for _ in range(3):
                fn(q, k, v)
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(iters):
                fn(q, k, v)
            end.record()
            end.synchronize()
            results[name] = start.elapsed_time(end) / iters
        except Exception as e:  # a kernel that cannot run here is skipped, with the reason
            results[name] = f"failed: {type(e).__name__}: {str(e)[:120]}"
    timed = {n: r for n, r in results.items() if isinstance(r, float)}
    best = min(timed, key=timed.get) if timed else "sdpa"
    for n, r in results.items():
        log.info("attention probe %-10s %s", n, f"{r:.3f} ms" if isinstance(r, float) else r)
    if not timed:
        log.warning("attention probe: no candidate ran; falling back to sdpa")
    return best, results


def choose(name: str, device: torch.device) -> str:
    """Resolve the configured backend (`auto` runs the probe on CUDA) and make it active."""
    register_optional_backends()
    if name == "auto":
        if device.type != "cuda":
            name = "sdpa"
        else:
            name, _ = probe(["sdpa", "sdpa_cudnn", "fa3", "flash_attn"])     # exact backends only, not FP8
    if name in UNAVAILABLE and name not in available_backends():
        raise ValueError(f"attention={name} cannot run here: it {UNAVAILABLE[name]}; use attention=sdpa or auto")
    set_backend(name)
    return name

