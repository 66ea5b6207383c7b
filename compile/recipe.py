"""The optimization recipe, applied in one place and a fixed order:

    1. attention backend          (backends.py: a name, or `auto` to probe)
       levers (`levers`, below): fused QKV before quantization (so the fused weight is quantized);
       the GELU epilogue (plain BF16 weights only) and the Triton kernels after it
    2. quantization               (quant/schemes.py: torchao, before compiling)
    3. compiler flags             (inductor cache directory, Triton's ptxas pinned: `pin_triton_ptxas`, recompile
                                   limit)
    4. torch.compile(fullgraph=True) of ONE transformer block's code, reused by all blocks
    5. (optional, `cuda_graphs`) the pipeline's model call replayed from one CUDA graph per call shape
       over the whole forward (cudagraph.py; `use_cuda_graphs`)

Modes (`compile.mode`): none, default, max_autotune (Inductor's GEMM autotuning and its own CUDA graphs,
which it skips here: the KV ring buffers are graph inputs written in place), max_autotune_no_cudagraphs;
our whole-forward CUDA graphs (step 5) go with any mode but max_autotune. Measured on the H100
(OPTIMIZATION_LOG.md rows 19-20): the max-autotune modes run 2% slower than mode default after a
6-minute cold compile.

Regional compilation: every `AttentionBlock` is compiled with the same code, and Dynamo treats the
blocks' parameters and the per-layer cache views as graph inputs, so the 30 blocks share one graph
per input shape instead of tracing a 30-layer graph (SPEC.md section 5: whole-model compiles take
2-6 minutes). Shapes change only with the window fill level and the re-cache pass; `warm_up` runs
each of them once before anything is timed, so a run then compiles nothing.

Levers (`CompileConfig.levers`, each measured on the H100 in OPTIMIZATION_LOG.md rows 13-18, 32-33, 36-40, 44-50,
53-55; none changes what is computed; kept as the compiled choices' default: gelu, kv_only, kv_write, fp8_gelu, ln,
q_rope, waves, mod):
    qkv      one [dim -> 3 dim] GEMM for the self-attention q, k, v (wan.SelfAttention.fuse_qkv; kv_write reads
             its K and V chunks in place): 1.00x
    gelu     the FFN's bias + GELU in the first GEMM's epilogue (wan.FeedForward; CUDA, BF16 weights)
    kv_only  the clean-context and re-cache passes stop after the last layer's K/V write: its attention,
             cross-attention, FFN and the head feed only an output nobody reads (wan.CausalWanModel)
    kv_write K's RMSNorm + RoPE + the ring-cache write of K and V in one Triton kernel (kv_kernel.py;
             CUDA with Triton, the ring cache)
    q_rope   Q's RMSNorm + RoPE in the same kernel, without the scatter (kv_kernel.py; CUDA with Triton): 8.4 us
             a call against Inductor's 26.8 alone; 1.003x in the whole run (82.9 vs 83.2 ms, row 50)
    tune     Inductor's coordinate-descent tuning of its Triton kernels' block sizes (mode default; the
             max-autotune modes include it): measured 1.01x for a 3.4x longer compile (FP8: 1.03x, 2.1x)
    split    FA3 splits the keys where that fills its last wave of CTAs (backends.fa3_num_splits: the
             steady-state self-attention of batch 1 runs in 2 parts); attention=fa3 only, any mode:
             1.03x on that call alone, 1.00x in the model (the combine kernel's cost)
    waves    FA3 runs the query tiles that fill whole waves as one call with all keys and splits only the
             remaining tiles' keys (backends.fa3_wave_plan, an opaque custom op writing one output): the steady
             batch-1 self-attention's 4 rounds of CTAs become 3.5: 1.031-1.040x in four processes (row 53;
             FP8 1.045x); attention=fa3 only, any mode, an FA3 op that writes into a given output
             (backends.fa3_writes_into_out, else skipped with a warning); taken over `split` where both are set
    halves   batch-1 FA3 calls that `waves` would plan run over the keys' two halves as a batch of 2, merged by
             their log-sum-exp in an Inductor-fused kernel (backends.fa3_halves): 888 CTAs instead of 444;
             1.05x alone, 1.00x against waves in the model (row 54): an option; taken over `waves` where both are set
    fp8_gelu the FFN's GELU and the FP8 quantization of its hidden in one Triton kernel that holds the row in
             registers (fp8_kernel.py; quant=fp8dq_row, CUDA) instead of Inductor's fusion of torchao's
             quantization: 125 vs 188 us a call, 1.04x on the FP8 path, the same FP8 bytes
    ln       each residual add + LayerNorm + modulation of a block (three sites) in one Triton kernel that holds
             the row in registers (norm_kernel.py; CUDA, BF16 weights): 1.011x (84.2 vs 85.1 ms per latent frame
             in the whole run, rows 44 and 47); warm start 22.3 s (its earlier 36 s was Triton's ptxas switch,
             row 46: `pin_triton_ptxas`). With quant=fp8dq_row the kernel also quantizes its output row as torchao
             would and the next Linears take the e4m3 rows (model.wan.linear): 1.024-1.027x (row 57); skipped
             for the other quantized models, whose activation quantization Inductor fuses into these norms
    persist  Inductor generates persistent (one pass, the row in registers) reductions for rows of up to
             2048 elements instead of 1024: the LayerNorm + modulation and Q/K RMSNorm rows of 1536 are
             otherwise looped reductions (26-34 us a layer call, 1-2 TB/s in the block profile). A
             process-wide Inductor heuristic (`persistent_rows`, set for every later compile in this thread);
             the compiles under it carry their own key in Inductor's FX graph cache (persistent_rows_cache_key),
             so no kernel made under one heuristic is served to the other): 1.014x (H100, OPTIMIZATION_LOG.md
             row 36), but 1.00x on top of `ln`, whose kernel does three of those reductions (row 48): an option
             (its warm-start cost, row 37, was the ptxas switch of row 46). `persistN` sets the row length to N
             (persist16384 on FP8: 0.99x)
    mod      every block's modulation rows (its `modulation` + the time projection e0) in one op per forward,
             passed to the blocks, instead of computed inside each compiled block, where Inductor makes a small
             kernel (~1.5 us, 4.6K elements) for each row the norm kernels of lever `ln` take: 5 a layer call
             in the block profile, ~1.1 ms a block (wan.CausalWanModel.forward); the same sums, bit for bit:
             1.001-1.014x in three pairs (row 55), a default
"""
import logging
import os
import re
import time
from dataclasses import dataclass, replace
from typing import Optional

import torch

from quant.schemes import QuantConfig, quantize

from .backends import choose, fa3_writes_into_out, set_fa3_halves, set_fa3_split, set_fa3_waves

log = logging.getLogger("longlive_fast")

LEVERS = ("qkv", "gelu", "kv_only", "kv_write", "q_rope", "tune", "split", "waves", "halves", "persist", "fp8_gelu",
          "ln", "mod")
PERSIST = re.compile(r"persist([1-9][0-9]*)?")     # lever persist, or persistN with a row length N

MODES = {
    "none": None,
    "default": {},
    "max_autotune": {"mode": "max-autotune"},
    "max_autotune_no_cudagraphs": {"mode": "max-autotune-no-cudagraphs"},
}


@dataclass(frozen=True)
class CompileConfig:
    mode: str = "none"                    # one of MODES
    attention: str = "sdpa"               # a backends.py name (sdpa, sdpa_cudnn, fa3, flash_attn, flex, math) or auto
    cache_dir: Optional[str] = None       # inductor/FX cache; a second run with the same dir starts warm
    recompile_limit: int = 32             # per code object; a run needs ~10 shapes (fill levels, re-caches)
    backend: str = "inductor"             # "eager" / "aot_eager" trace without generating kernels (debugging, tests)
    cuda_graphs: bool = False             # one CUDA graph per call shape over the whole forward (cudagraph.py)
    levers: tuple = ()                    # a subset of LEVERS (see the module docstring)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"compile.mode: {self.mode!r} is not one of {sorted(MODES)}")
        object.__setattr__(self, "levers", tuple(self.levers))
        unknown = [x for x in self.levers if x not in LEVERS and not PERSIST.fullmatch(x)]
        if unknown:
            raise ValueError(f"compile.levers: {unknown} not among {list(LEVERS)} (or persistN, N a row length)")
        persist_max_row(self.levers)                    # refuses lever persist given twice
        if self.cuda_graphs and self.mode == "max_autotune":
            raise ValueError("compile.cuda_graphs=true with compile.mode=max_autotune: Inductor's own CUDA graphs "
                             "and ours would nest; use mode default (or max_autotune_no_cudagraphs) with cuda_graphs")

    def check_device(self, device: torch.device) -> None:
        """Refuse, before any work, what this device cannot do."""
        if self.cuda_graphs and device.type != "cuda":
            raise ValueError(f"compile.cuda_graphs=true needs a CUDA device, not {device}; "
                             "set compile.cuda_graphs=false (or compile=default)")

    @classmethod
    def from_choice(cls, choice: str, attention: str = "sdpa", **kwargs) -> "CompileConfig":
        """A `compile` group choice name (conf/compile/*.yaml) -> its config."""
        if choice not in CHOICES:
            raise ValueError(f"compile choice {choice!r} is not one of {sorted(CHOICES)}")
        mode, graphs = CHOICES[choice]
        return cls(mode=mode, attention=attention, cuda_graphs=graphs, **kwargs)


# conf/compile/*.yaml: choice -> (mode, cuda_graphs)
CHOICES = {"none": ("none", False), "none_cudagraphs": ("none", True), "default": ("default", False),
           "default_cudagraphs": ("default", True), "max_autotune": ("max_autotune", False),
           "max_autotune_no_cudagraphs": ("max_autotune_no_cudagraphs", False),
           "max_autotune_cudagraphs": ("max_autotune_no_cudagraphs", True)}


def use_cuda_graphs(pipeline, cfg: CompileConfig):
    """Step 5 of the recipe: replay the pipeline's model calls from CUDA graphs when `cfg.cuda_graphs`."""
    if not cfg.cuda_graphs:
        return pipeline
    from model.kv_cache import RingKVCache
    from .cudagraph import GraphedForward
    cfg.check_device(pipeline.device)
    if not isinstance(pipeline.cache, RingKVCache):
        raise ValueError("compile.cuda_graphs needs the ring cache (the reference cache keeps Python state)")
    pipeline.call = GraphedForward(pipeline._call)
    return pipeline


def optimize(model, cfg: CompileConfig, quant: QuantConfig = QuantConfig()):
    """Apply the recipe to a `CausalWanModel` in place; returns it."""
    device = model.patch_embedding.weight.device
    attention = choose(cfg.attention, device)
    set_fa3_split("split" in cfg.levers)
    waves = "waves" in cfg.levers
    if waves and attention == "fa3" and not fa3_writes_into_out():
        log.warning("lever waves skipped: this FA3 build's forward op does not take out / softmax_scale / num_splits "
                    "by keyword (backends.fa3_writes_into_out); FA3 runs as one call")
        waves = False
    set_fa3_waves(waves)
    set_fa3_halves("halves" in cfg.levers)
    for lever in ("split", "waves", "halves"):
        if lever in cfg.levers and attention != "fa3":
            log.info("lever %s skipped: it splits FA3's keys, the attention is %s", lever, attention)
    if "qkv" in cfg.levers:
        for block in model.blocks:
            block.self_attn.fuse_qkv()
    quantize(model, quant)
    if "gelu" in cfg.levers:
        plain = all(type(b.ffn[0].weight) is torch.nn.Parameter for b in model.blocks)
        if device.type != "cuda":
            log.info("lever gelu skipped: the GEMM epilogue is cuBLASLt's (CUDA); on %s _addmm_activation "
                     "uses the erf GELU, not the model's tanh one", device.type)
        elif not plain:
            log.info("lever gelu skipped: quantized FFN weights (quant=%s) run torchao's kernels", quant.scheme)
        else:
            for block in model.blocks:
                block.ffn.gelu_epilogue = True
    if "fp8_gelu" in cfg.levers:
        from . import fp8_kernel
        why = _kernel_unavailable(fp8_kernel, device)
        if why is None and quant.scheme != "fp8dq_row":
            why = f"it feeds the fp8dq_row scheme's down projection, the quant is {quant.scheme}"
        if why is None and not all(fp8_kernel.is_fp8(b.ffn[2]) for b in model.blocks):
            why = "the FFN's down projections are not FP8 (quant.exclude)"
        if why is not None:
            log.info("lever fp8_gelu skipped: %s", why)
        else:
            for block in model.blocks:
                block.ffn[2].fp8_in = fp8_kernel.fp8_weights(block.ffn[2])
                block.ffn.fp8_gelu = fp8_kernel.gelu_fp8_ffn
    if "ln" in cfg.levers:
        from . import fp8_kernel, norm_kernel
        why = _kernel_unavailable(norm_kernel, device)
        fp8 = quant.scheme == "fp8dq_row"
        if why is None and quant.scheme not in ("none", "fp8dq_row"):
            why = f"quant={quant.scheme}: Inductor fuses the activation quantization into these norms"
        if why is None and fp8 and not all(fp8_kernel.is_fp8(lin) for b in model.blocks for lin in _norm_fed(b)):
            why = "a Linear after a norm is not FP8 (quant.exclude), the norm kernel would quantize its input"
        if why is None and not all(isinstance(b.norm3, torch.nn.LayerNorm) for b in model.blocks):
            why = "the model has no cross-attention LayerNorm (cross_attn_norm=false)"
        if why:
            log.info("lever ln skipped: %s", why)
        else:
            for block in model.blocks:
                block.add_norm = norm_kernel.add_norm_fp8 if fp8 else norm_kernel.add_norm
                for lin in _norm_fed(block) if fp8 else ():
                    lin.fp8_in = fp8_kernel.fp8_weights(lin)
    for lever, attr in (("kv_write", "kv_writer"), ("q_rope", "q_rope")):
        if lever not in cfg.levers:
            continue
        from . import kv_kernel
        why = _kernel_unavailable(kv_kernel, device)
        if why is None and not model.cfg.qk_norm:
            why = "the model has no Q/K RMSNorm (qk_norm=false)"
        if why is None and model.dtype != torch.bfloat16:
            why = f"the kernel rounds as BF16 does, the model is {model.dtype}"
        if why:
            log.info("lever %s skipped: %s", lever, why)
            continue
        fn = kv_kernel.fused_kv_write if lever == "kv_write" else kv_kernel.fused_q_norm_rope
        for block in model.blocks:
            setattr(block.self_attn, attr, fn)
    model.kv_only_context = "kv_only" in cfg.levers
    for block in model.blocks:
        block.premodulated = "mod" in cfg.levers
    if cfg.cache_dir:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cfg.cache_dir)
        os.environ["TORCHINDUCTOR_FX_GRAPH_CACHE"] = "1"
    pin_triton_ptxas()
    kwargs = MODES[cfg.mode]
    if kwargs is None:
        return model
    options = {}
    if "tune" in cfg.levers:
        if kwargs:
            log.info("lever tune: compile.mode=%s already tunes (coordinate descent)", cfg.mode)
        else:
            options["coordinate_descent_tuning"] = True
    max_row = persist_max_row(cfg.levers)
    if max_row and kwargs:
        log.info("lever persist skipped: torch.compile takes a mode or options, not both (mode %s)", cfg.mode)
        max_row = None
    persistent_rows(max_row)
    if max_row:
        options["post_grad_custom_post_pass"] = persistent_rows_cache_key(max_row)
    if options:
        kwargs = {"options": options}
    torch._dynamo.config.recompile_limit = cfg.recompile_limit
    torch._dynamo.config.accumulated_recompile_limit = max(cfg.recompile_limit * 8, 256)
    for block in model.blocks:
        block.compile(fullgraph=True, dynamic=False, backend=cfg.backend, **kwargs)
    return model


def _norm_fed(block) -> list:
    """The Linears that read a LayerNorm site's output: q, k, v (or the fused qkv), cross-attention q, FFN up."""
    attn = block.self_attn
    qkv = [attn.qkv] if hasattr(attn, "qkv") else [attn.q, attn.k, attn.v]
    return qkv + [block.cross_attn.q, block.ffn[0]]


CUBLAS_WORKSPACES = ("default", "none")
_cublas_workspace = None        # this process's choice: PyTorch sizes cuBLAS's workspace once, at its first GEMM


def set_cublas_workspace(choice: str) -> None:
    """The run's `cublas_workspace`, before any GEMM of the process: "default" leaves PyTorch's (and the
    environment's) setting; "none" gives cuBLAS and cuBLASLt no workspace (CUBLAS_WORKSPACE_CONFIG=:0:0,
    CUBLASLT_WORKSPACE_SIZE=0). On the H100 with torch 2.11 / CUDA 13, cuBLASLt then picks FP8 row-wise GEMM
    kernels without a zeroed workspace: no Memset node before each of the fp8dq_row path's GEMMs, 2.4-11 us less
    a GEMM alone (benchmarks/fp8_gemm_graph.py), the FP8 path in CUDA graphs ~1.02x; but the eager paths (ours,
    LongLive's code) run 1.2-1.7x slower, blocks alternating between two speeds (BENCHMARKS.md, cuBLAS
    workspace). Hence not the default. One choice a process: a second, different one raises (it would not take
    effect)."""
    global _cublas_workspace
    if choice not in CUBLAS_WORKSPACES:
        raise ValueError(f"cublas_workspace={choice!r}: one of {list(CUBLAS_WORKSPACES)}")
    if _cublas_workspace is not None and choice != _cublas_workspace:
        raise ValueError(f"cublas_workspace={choice}: this process already runs with {_cublas_workspace} (PyTorch "
                         "sizes cuBLAS's workspace once a process); run it in a process of its own")
    _cublas_workspace = choice
    if choice == "none":
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":0:0"
        os.environ["CUBLASLT_WORKSPACE_SIZE"] = "0"


def pin_triton_ptxas() -> Optional[str]:
    """Choose Triton's ptxas for the whole process now, before any kernel is compiled; returns its path (None:
    Triton's own). Inductor switches Triton to the ptxas that ships with torch (CUDA 13 in the H100 image; Triton's
    bundled one is 12.8) the first time it compiles a kernel in this process, not in its workers. Triton keys its
    cache on the ptxas version, so a kernel compiled before the switch and looked up after it (or the other way)
    misses and is compiled again: a warm start with every FX graph cached compiled 22 kernels again with lever
    `ln` (ln's and the VAE norm's, launched by Triton itself, and six of Inductor's), 5 s of ptxas alone
    (benchmarks/gpu_warmstart_keys2.sh). Applying Inductor's own rule first makes every compile of the process
    use one ptxas. A TRITON_PTXAS_PATH set by the user is kept."""
    if not os.environ.get("TRITON_PTXAS_PATH"):
        try:
            from torch._inductor.runtime.compile_tasks import _set_triton_ptxas_path
        except ImportError:         # another torch: its rule is unknown, leave Triton's default
            return None
        _set_triton_ptxas_path()
    return os.environ.get("TRITON_PTXAS_PATH")


def _kernel_unavailable(kernel_module, device: torch.device) -> Optional[str]:
    """Why a lever's Triton kernel module (kv_kernel, fp8_kernel, norm_kernel) cannot run the model on `device`,
    or None."""
    if kernel_module.UNAVAILABLE:
        return kernel_module.UNAVAILABLE
    return f"it is a CUDA kernel, the model is on {device.type}" if device.type != "cuda" else None


PERSIST_MAX_ROW = 2048      # lever persist: the longest row Inductor keeps in registers


def persist_max_row(levers) -> Optional[int]:
    """The row length of lever persist among `levers`: `persist` is PERSIST_MAX_ROW, `persistN` is N (e.g.
    persist16384 also covers the FP8 path's quantization of the 8960-wide FFN hidden); None without it."""
    found = [(x, m) for x, m in ((x, PERSIST.fullmatch(x)) for x in levers) if m]
    if len(found) > 1:
        raise ValueError(f"compile.levers: {[x for x, _ in found]}: give lever persist once")
    return int(found[0][1].group(1) or PERSIST_MAX_ROW) if found else None


def persistent_rows_cache_key(max_row: int = PERSIST_MAX_ROW):
    """A post-grad pass that does nothing but give Inductor's caches a key: a custom pass's `uuid()` enters
    the FX graph cache key (Inductor's documented way for passes to stay cacheable), so the kernels compiled
    under the persistent-rows heuristic are cached apart from the default's and a warm start finds its own.
    (It takes Inductor's `post_grad_custom_post_pass` slot: a user pass there is replaced.)"""
    from torch._inductor.custom_graph_pass import CustomGraphPass

    class PersistentRowsKey(CustomGraphPass):
        def __call__(self, graph) -> None:
            return None

        def uuid(self) -> str:
            return f"longlive-persistent-rows-{max_row}"
    return PersistentRowsKey()


def persistent_rows(max_row: Optional[int]) -> None:
    """Lever persist: make Inductor's reductions over rows of up to `max_row` elements persistent (its own
    heuristic stops at 1024 for inner reductions); None restores Inductor's heuristic. Inductor reads this
    choice (`V.choices`) per thread when it generates a kernel, so it holds for every later compile in the
    thread, the VAE's included, whose Inductor reductions (channel norms of at most 384) are persistent
    either way."""
    from torch._inductor.choices import InductorChoices
    from torch._inductor.virtualized import V
    if max_row is None:
        V.set_choices_handler(InductorChoices())
        return

    class PersistentRows(InductorChoices):
        @staticmethod
        def should_use_persistent_reduction(features, cooperative_reduction) -> bool:
            from torch._inductor import config
            from torch._inductor.runtime.hints import ReductionHint
            if InductorChoices.should_use_persistent_reduction(features, cooperative_reduction):
                return True
            return (config.triton.persistent_reductions and not cooperative_reduction
                    and features.get_reduction_hint() == ReductionHint.INNER
                    and V.graph.sizevars.statically_known_leq(features.reduction_numel, max_row))
    V.set_choices_handler(PersistentRows())


def vae_cuda_graphs_apply(cfg: CompileConfig, on: bool = True) -> bool:
    """Whether compile_vae replays the VAE's passes from CUDA graphs: asked for (`on`, output.vae_cuda_graphs),
    on a compiled mode with compile.cuda_graphs."""
    return bool(on) and cfg.cuda_graphs and MODES[cfg.mode] is not None


VAE_NORM_OPS = ("opaque", "traced")      # how compile_vae registers the fused VAE norm kernel (fused_norm_op)


def fused_vae_norm_unavailable(device: torch.device, channels_last: bool) -> Optional[str]:
    """Why the VAE's fused norm kernel (compile/vae_kernel.py) cannot run here, or None."""
    from . import vae_kernel
    if device.type != "cuda":
        return f"it is a CUDA kernel, the VAE is on {device.type}"
    if not channels_last:
        return "it needs the channels-last VAE (output.vae_channels_last=true)"
    return vae_kernel.UNAVAILABLE


def compile_vae(vae, cfg: CompileConfig, subpixel: bool = False, fused_norm: bool = False,
                fused_norm_op: str = "opaque", cuda_graphs: bool = False, conv_channels: int = 0,
                head_taps: bool = False, attention_gemms: bool = False):
    """Compile the VAE decoder's one-pass function on its own (two graphs: the stream's first block,
    whose first latent frame skips the temporal upsampling, and every later block). On compiled modes
    only (both measured on the H100, BENCHMARKS.md, VAE; eager keeps Wan's layers):
      subpixel    each spatial upsampling as one 2x2 conv giving the 4 output phases (1.03x compiled; eager
                  0.96x: the phase interleave is a copy there, fused into its consumers when compiled)
      fused_norm  the RMSNorm + SiLU in front of each cached conv as one Triton kernel that reads the conv's
                  history (compile/vae_kernel.py): the compiled transient 3.8 -> 1.0 GiB, 1.04x; CUDA with
                  Triton and the channels-last VAE, otherwise skipped with a warning. `fused_norm_op`:
                  "opaque" (a custom op Inductor calls as it is; Triton's own cache keeps its binaries: warm
                  start 27.4 s) or "traced" (a triton_op: Inductor compiles and launches the kernel; the same
                  speed, warm start 36.4 s, cold 79.7 s against 54.1: BENCHMARKS.md, warm start).
      cuda_graphs each streaming pass after a stream's first replayed from a CUDA graph (cudagraph.py,
                  GraphedVAEPasses), when `cfg.cuda_graphs` too: the host launches one graph instead of ~300
                  kernels a pass. Shares the DiT graphs' memory pool (they never run at once).
      conv_channels  the residual blocks' convs with fewer output channels compute this many (zero weights),
                  passing on a view of theirs (WanVAEDecoder.pad_conv_channels; 0: off): in Wan2.1 the six
                  96-channel full-resolution convs, 2.14 -> 1.55 ms a call on the H100 with 128.
      head_taps   with the fused norm: the head conv (96 -> 3) through its taps' products, computed in the
                  norm kernel that builds its input, and a summing kernel (vae_kernel.fused_norm_silu_head;
                  cuDNN runs the head at ~20 TFLOP/s, 1.2 ms a pass): the VAE alone 31.7 -> 30.8 ms per latent
                  frame on the H100 (1.03x); its float32 products add ~1.4 GiB reserved in the graphs' pool.
      attention_gemms  the middle block's attention (one head of dim 384) as two batched GEMMs with float32 logits
                  (WanVAEDecoder.attention_by_gemms) instead of SDPA's memory-efficient kernel: 559 -> 213 us a
                  pass compiled on the H100. With head_taps, the whole run's VAE 33.1 -> 32.4 ms per latent frame
                  (one process; both defaults of generate.py since)."""
    pin_triton_ptxas()
    kwargs = MODES[cfg.mode]
    if kwargs is None:
        return vae
    vae.subpixel_upsample(subpixel).pad_conv_channels(conv_channels).attention_by_gemms(attention_gemms)
    if fused_norm:
        why = fused_vae_norm_unavailable(vae.conv2.weight.device, vae.channels_last)
        if why:
            log.warning("output.vae_fused_norm skipped: %s", why)
        else:
            from . import vae_kernel
            if fused_norm_op not in VAE_NORM_OPS:
                raise ValueError(f"output.vae_fused_norm_op={fused_norm_op!r}: one of {VAE_NORM_OPS}")
            vae.fuse_norm_history(vae_kernel.fused_norm_silu_history_opaque if fused_norm_op == "opaque"
                                  else vae_kernel.fused_norm_silu_history_traced)
            vae.head_taps_kernel(vae_kernel.fused_norm_silu_head if head_taps else None)
    vae.compile(fullgraph=True, dynamic=False, backend=cfg.backend, **kwargs)
    if vae_cuda_graphs_apply(cfg, cuda_graphs):
        from .cudagraph import GraphedVAEPasses
        cfg.check_device(vae.conv2.weight.device)
        vae.pass_runner = GraphedVAEPasses()
    return vae


def warm_up_schedules(schedules, frames_per_block: int, local_attn_size: int):
    """A short stream that meets every shape of a real run: each window fill level and a re-cache at
    every block start up to one block past the window (Fc <= local re-caches Fc frames, later ones a
    fixed count). Returns (schedules, num_frames); reuses the first prompts of the real schedules."""
    F = frames_per_block
    switch_at = list(range(F, local_attn_size + 2 * F, F))
    num_frames = switch_at[-1] + F
    warm = []
    for sched in schedules:
        prompts = [sched[i % len(sched)] for i in range(len(switch_at) + 1)]
        warm.append([replace(p, start_frame=s) for p, s in zip(prompts, [0] + switch_at)])
    return warm, num_frames


def warm_up(pipeline, schedules, noise_factory, vae=None, vae_per_frame: bool = False) -> float:
    """Run the warm-up stream (every shape), then a batch variant where only sample 0 switches when
    the batch has several samples; with `vae`, decode the blocks too (its first-block and later-block
    graphs). Returns seconds; nothing of it is kept."""
    t0 = time.perf_counter()
    gen = pipeline.gen
    warm, n = warm_up_schedules(schedules, gen.num_frame_per_block, gen.local_attn_size)
    stream = vae.new_stream(pipeline.batch, pipeline.latent_hw) if vae is not None else None
    for block in pipeline.stream(warm, n, noise_factory()):
        if vae is not None and block.index < 2:
            vae.decode_block(block.latents, stream, per_frame=vae_per_frame)
    if pipeline.batch > 1:  # partial switches: a per-sample write mask is another graph
        partial = [warm[0]] + [[replace(s[0], start_frame=0)] for s in warm[1:]]
        for _ in pipeline.stream(partial, n, noise_factory()):
            pass
    if pipeline.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0
