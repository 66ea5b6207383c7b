"""LongLive 1.0's own inference code timed as a path of scripts/benchmark.py (`paths=[longlive,...]`).

SPEC.md section 6 states the BF16 target as a ratio to LongLive 1.0's eager code (182 ms per latent frame
on our H100, >= 2.25x "in the same run"), while our eager reference path (`reference:none:sdpa`) is our
own model and already faster than that code. With a checkout of NVlabs/LongLive (branch v1.0) and its
imports (diffusers, einops; see README), `longlive_src=/path/to/LongLive` runs that code in the benchmark's
process, on the same weights, prompts' embeddings and switch frames, so the ratio is measured, not quoted.
Nothing of LongLive is shipped or copied here: this module imports it from the given path and drives
its `InteractiveCausalInferencePipeline` as LongLive's `interactive_inference.py` does, with three
stand-ins for what the benchmark does not time: the text encoder (the run's embeddings, encoded once
as in our pipeline), the final whole-video VAE decode (skipped: LongLive decodes after the loop, the
benchmark times the DiT), and the checkpoint (our random weights, loaded by their official key names).
On Hopper LongLive runs FA3 when `flash_attn_interface` imports; the fa3-fwd wheel is that module under
another name, aliased here when neither FlashAttention package is installed.

Timing: the generator's forward is wrapped to record a CUDA event after each call (no sync added:
LongLive's forward syncs the host itself through `.item()`); a block ends with its clean-context call,
and a block that starts with a re-cache call (a prompt switch) counts it, as in SPEC.md section 2.
Its re-noising draws (`torch.randn_like`, its only draw in inference) are recorded, so that the
benchmark's later paths replay them and their outputs can be compared with LongLive's.
"""
import contextlib
import importlib
import importlib.machinery
import importlib.util
import sys
import time
import types
from pathlib import Path

import torch

from scripts.generate import BlockTimer

REQUIRED = ("pipeline/interactive_causal_inference.py", "pipeline/causal_inference.py", "utils/wan_wrapper.py",
            "wan/modules/causal_model.py")
# LongLive's packages are entered without their __init__ (which import the training code, torchvision,
# xfuser and peft); the inference modules need none of those.
PACKAGES = ("wan", "wan.modules", "wan.configs", "pipeline", "utils")


def check_source(src) -> Path:
    """The LongLive checkout at `src`, or a ValueError saying what is missing."""
    if not src:
        raise ValueError("path longlive: set longlive_src=/path/to/LongLive (a checkout of NVlabs/LongLive, "
                         "branch v1.0), the code the path times")
    root = Path(str(src)).expanduser().resolve()
    missing = [f for f in REQUIRED if not (root / f).is_file()]
    if missing:
        raise ValueError(f"longlive_src={src}: not a LongLive 1.0 checkout, missing {', '.join(missing)}")
    return root


def import_longlive(src) -> types.SimpleNamespace:
    """LongLive's inference modules from the checkout at `src` (check_source). Its top-level package names
    (`wan`, `pipeline`, `utils`) must not be taken by other packages in this process."""
    root = check_source(src)
    for name in PACKAGES:
        have = sys.modules.get(name)
        path = str(root.joinpath(*name.split(".")))
        if have is not None and path not in list(getattr(have, "__path__", [])):
            raise ValueError(f"longlive_src={src}: the package name {name!r} is already taken in this process "
                             f"by {getattr(have, '__file__', None) or have}")
        if have is None:
            pkg = types.ModuleType(name)
            pkg.__path__ = [path]
            sys.modules[name] = pkg
    # their tokenizer's text cleaner; no tokenizer runs here
    if "ftfy" not in sys.modules and importlib.util.find_spec("ftfy") is None:
        stub = types.ModuleType("ftfy")
        stub.__spec__ = importlib.machinery.ModuleSpec("ftfy", None)   # find_spec("ftfy") works (diffusers asks)
        sys.modules["ftfy"] = stub
    if not any(m in sys.modules or importlib.util.find_spec(m) for m in ("flash_attn_interface", "flash_attn")) \
            and importlib.util.find_spec("fa3_fwd_interface"):
        # LongLive calls FlashAttention (FA3's `flash_attn_interface` on Hopper, else FA2's `flash_attn`);
        # the fa3-fwd wheel is FA3's forward under another module name, with the same varlen function
        sys.modules["flash_attn_interface"] = importlib.import_module("fa3_fwd_interface")
    try:
        mods = {n: importlib.import_module(m) for n, m in (
            ("pipeline", "pipeline.interactive_causal_inference"), ("wrapper", "utils.wan_wrapper"),
            ("model", "wan.modules.causal_model"), ("attention", "wan.modules.attention"))}
    except ImportError as e:
        raise ValueError(f"longlive_src={src}: LongLive's inference code needs {e.name or e} (pip install -e "
                         "\".[longlive]\": diffusers==0.31.0, einops, as its requirements.txt pins)") from e
    return types.SimpleNamespace(root=root, **mods)


def forget_longlive() -> None:
    """Drop LongLive's packages (PACKAGES' top-level names, and what was imported under them) from this process,
    e.g. before another checkout is imported."""
    tops = {p.split(".")[0] for p in PACKAGES}
    for name in [n for n in sys.modules if n.split(".")[0] in tops]:
        del sys.modules[name]


def attention_backend(ll) -> str:
    """What LongLive's attention wrapper uses here: FA3, FA2, or PyTorch SDPA (its fallback)."""
    a = ll.attention
    if a.FLASH_ATTN_3_AVAILABLE:
        return "fa3"
    return "flash_attn" if a.FLASH_ATTN_2_AVAILABLE else "sdpa"


def blocks_from_calls(kinds: list, steps_per_block: int) -> list:
    """Group the generator's calls into blocks: [(index of the block's last call, switched)], given each
    call's kind, "recache" (a prompt switch's re-cache, before the block's first step) or "step" (a
    denoising step or the clean-context pass, `steps_per_block` of them a block)."""
    blocks, steps, switched = [], 0, False
    for i, kind in enumerate(kinds):
        if kind == "recache":
            if steps:
                raise ValueError(f"call {i}: a re-cache inside a block (after {steps} of its calls)")
            switched = True
            continue
        if kind != "step":
            raise ValueError(f"call {i}: unknown kind {kind!r}")
        steps += 1
        if steps == steps_per_block:
            blocks.append((i, switched))
            steps, switched = 0, False
    if steps or switched:
        raise ValueError(f"the calls end inside a block ({steps} of {steps_per_block} calls)")
    return blocks


@contextlib.contextmanager
def _random_init(model_cls, config: dict, device):
    """LongLive's wrapper builds its DiT by `CausalWanModel.from_pretrained(folder)`; here, from `config`
    with random weights, drawn on `device` (the benchmark loads its own weights after)."""
    original = model_cls.__dict__.get("from_pretrained")      # None: inherited (diffusers' ModelMixin)

    def build(cls, _folder, **kwargs):
        with torch.device(device):
            return cls(**config, **kwargs)
    model_cls.from_pretrained = classmethod(build)
    try:
        yield
    finally:
        if original is None:
            del model_cls.from_pretrained
        else:
            model_cls.from_pretrained = original


class _Embeddings(torch.nn.Module):
    """Stands in for LongLive's text encoder: prompt name -> the run's embeddings [1, text_len, text_dim]."""

    def __init__(self, table: dict):
        super().__init__()
        self.table = table

    def forward(self, text_prompts):
        return {"prompt_embeds": torch.cat([self.table[p] for p in text_prompts])}


class _NoDecode(torch.nn.Module):
    """Stands in for LongLive's VAE wrapper: the pipeline's final whole-video decode returns the latents."""

    def decode_to_pixel(self, latent, use_cache=False):
        return latent


def build_pipeline(ll, state_dict: dict, model_cfg, gen, frame_tokens: int, embeds: dict, device, dtype):
    """LongLive's InteractiveCausalInferencePipeline with the weights `state_dict` (official Wan keys), the
    generation settings `gen` (our GenerationConfig) and the embeddings `embeds` as its text encoder."""
    from omegaconf import OmegaConf
    if (model_cfg.num_heads, model_cfg.head_dim) != (12, 128):
        raise ValueError(f"path longlive: LongLive's caches are [.., 12, 128] (Wan2.1-1.3B's heads); this model has "
                         f"{model_cfg.num_heads} heads of {model_cfg.head_dim}")
    args = OmegaConf.create({
        "denoising_step_list": list(gen.denoising_steps), "warp_denoising_step": gen.warp_denoising_step,
        "num_frame_per_block": gen.num_frame_per_block, "global_sink": gen.global_sink,
        "context_noise": gen.context_noise,
        "model_kwargs": {"local_attn_size": gen.local_attn_size, "timestep_shift": gen.timestep_shift,
                         "sink_size": gen.sink_size}})
    config = {"model_type": "t2v", "patch_size": tuple(model_cfg.patch_size), "text_len": model_cfg.text_len,
              "in_dim": model_cfg.in_dim, "dim": model_cfg.dim, "ffn_dim": model_cfg.ffn_dim,
              "freq_dim": model_cfg.freq_dim, "text_dim": model_cfg.text_dim, "out_dim": model_cfg.out_dim,
              "num_heads": model_cfg.num_heads, "num_layers": model_cfg.num_layers, "qk_norm": model_cfg.qk_norm,
              "cross_attn_norm": model_cfg.cross_attn_norm, "eps": model_cfg.eps}
    with _random_init(ll.model.CausalWanModel, config, device):
        generator = ll.wrapper.WanDiffusionWrapper(**args.model_kwargs, is_causal=True)
    generator.model.load_state_dict(state_dict, strict=True)
    pipe = ll.pipeline.InteractiveCausalInferencePipeline(args, device, generator=generator,
                                                          text_encoder=_Embeddings(embeds), vae=_NoDecode())
    pipe.frame_seq_length = frame_tokens                 # hard-coded 1560 and 30 (480x832, 1.3B) in LongLive
    pipe.num_transformer_blocks = model_cfg.num_layers
    pipe = pipe.to(device=device, dtype=dtype)           # as interactive_inference.py: the whole pipeline in BF16
    pipe.text_encoder.table = {k: v.to(device=device, dtype=dtype) for k, v in embeds.items()}
    return pipe


def _timed(pipe, device):
    """Wrap the generator's forward: each call marks a BlockTimer (CUDA events; no sync) and records its kind.
    Returns (timer, kinds, undo)."""
    gen = pipe.generator
    forward = gen.forward
    timer, kinds = BlockTimer(device), []

    def timed(*args, **kwargs):
        out = forward(*args, **kwargs)
        timer.mark()
        kinds.append("recache" if "sink_recache_after_switch" in kwargs else "step")
        return out
    gen.forward = timed

    def undo():
        del gen.forward
    return timer, kinds, undo


@contextlib.contextmanager
def _recorded_draws(draws: list):
    """LongLive re-noises with `torch.randn_like` (its only draw in inference): keep a copy of each draw, in
    call order, so that our paths can replay them (model.noise.ReplayNoise) and compare outputs with it."""
    draw = torch.randn_like

    def recording(*args, **kwargs):
        out = draw(*args, **kwargs)
        draws.append(out.clone())
        return out
    torch.randn_like = recording
    try:
        yield
    finally:
        torch.randn_like = draw


def run(pipe, noise: torch.Tensor, segments: list, switch_frames: list, gen, seed: int, draws: list = None):
    """One `inference` of LongLive's pipeline over `noise` [1, F, C, H, W] with prompt names `segments`
    switching at latent frames `switch_frames`; with a list `draws`, its re-noising draws are appended to it.
    Returns (blocks as benchmark.py reads them, latents)."""
    torch.manual_seed(seed)                              # LongLive draws its re-noising from the global generator
    timer, kinds, undo = _timed(pipe, noise.device)
    try:
        with _recorded_draws(draws) if draws is not None else contextlib.nullcontext():
            _, latents = pipe.inference(noise, text_prompts_list=[[s] for s in segments],
                                        switch_frame_indices=list(switch_frames), return_latents=True)
    finally:
        undo()
    laps = timer.laps_ms()              # laps[i]: call i, from the end of the one before (one sync, here)
    F = gen.num_frame_per_block
    blocks, first = [], 0
    for k, (last, switched) in enumerate(blocks_from_calls(kinds, len(gen.denoising_steps) + 1)):
        blocks.append({"block": k, "first_frame": k * F, "switched": [0] if switched else [],
                       "ms": sum(laps[first:last + 1])})
        first = last + 1
    if len(blocks) * F != noise.shape[1]:
        raise RuntimeError(f"LongLive ran {len(blocks)} blocks for {noise.shape[1]} latent frames")
    return blocks, latents


def time_longlive(src, state_dict: dict, model_cfg, gen, latent_hw, schedule: list, num_frames: int, seed: int,
                  device, dtype) -> dict:
    """The benchmark row's measurements for LongLive's own code (batch 1): a warm-up inference over
    2 windows with one switch, then the timed run. `schedule` is sample 0's [PromptSegment]. `noise` in the
    result is the run's starting noise and its re-noising draws in order (ReplayNoise's arguments)."""
    if device.type != "cuda":
        raise ValueError("path longlive: LongLive's code runs on CUDA only (FlashAttention; its T5 module asks "
                         "for the current CUDA device when imported)")
    ll = import_longlive(src)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    embeds = {f"segment{i}": seg.embeds[None] for i, seg in enumerate(schedule)}
    frame_tokens = (latent_hw[0] // model_cfg.patch_size[1]) * (latent_hw[1] // model_cfg.patch_size[2])
    pipe = build_pipeline(ll, state_dict, model_cfg, gen, frame_tokens, embeds, device, dtype)
    g = torch.Generator("cpu").manual_seed(seed)
    noise = torch.randn(1, num_frames, model_cfg.in_dim, *latent_hw, generator=g).to(device=device, dtype=dtype)
    names = list(embeds)
    F = gen.num_frame_per_block
    warm_frames = min(num_frames, -(-2 * gen.local_attn_size // F) * F + F)
    t0 = time.perf_counter()
    run(pipe, noise[:, :warm_frames], names[:2], [warm_frames - F] if len(names) > 1 else [], gen, seed)
    warmup_s = time.perf_counter() - t0
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    from torch._dynamo.utils import counters            # eager code: counted as for every path, not assumed
    counters.clear()
    draws = []
    blocks, latents = run(pipe, noise, names, [seg.start_frame for seg in schedule[1:]], gen, seed, draws)
    result = {
        "blocks": blocks, "latents": latents.float().cpu(), "frames": None,
        "noise": (noise, draws),        # for model.noise.ReplayNoise: our paths draw what LongLive drew
        "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30,
        "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
        "warmup_peak_mem_gib": None, "recompiles": int(counters["stats"]["unique_graphs"]),
        "graph_breaks": int(sum(counters["graph_break"].values())),
        "compile_s": 0.0, "warmup_s": warmup_s,      # eager: no torch.compile call (the counts above say if any)
        "longlive_attention": attention_backend(ll), "longlive_src": str(ll.root),
    }
    del pipe
    return result

