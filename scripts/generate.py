"""Generate a video block by block, switching prompts as scheduled, decoding and encoding as it streams.

    python scripts/generate.py                                  # tiny model, one prompt, 9 latent frames
    python scripts/generate.py prompts=interactive              # 6 prompts over 240 latent frames
    python scripts/generate.py model=wan_1_3b checkpoint=longlive compile=default attention=auto

Writes into Hydra's run directory: video.mp4 (H.264, 16 fps; video_<i>.mp4 per sample when batch > 1),
first_frame.png / last_frame.png, latency.png, latents.safetensors ([B, T, 16, H/8, W/8]),
config.yaml (resolved) and timings.json (per-block DiT and VAE times, steady state, switch latencies,
compile and warm-up time). Without a checkpoint every weight is random (DiT, VAE, text encoder):
the video is noise and proves the pipeline, not the model.
"""
import importlib.util
import json
import logging
import os
import statistics
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile.backends import CUDA_ONLY  # noqa: E402
from compile.recipe import (MODES, VAE_NORM_OPS, CompileConfig, compile_vae, optimize,  # noqa: E402
                            set_cublas_workspace, use_cuda_graphs, warm_up)
from model.checkpoint import WAN_DIT_FILE, load_dit  # noqa: E402
from model.config import GenerationConfig, ModelConfig, model_preset  # noqa: E402
from model.memory import MemoryPlan, check_fits, estimate  # noqa: E402
from model.noise import SeededNoise  # noqa: E402
from model.pipeline import PromptSegment, StreamingPipeline, check_num_frames, switch_block_starts  # noqa: E402
from model.vae import VAE_PRESETS, WanVAEDecoder, load_vae_decoder  # noqa: E402
from model.attention import get_backend  # noqa: E402
from model.wan import CausalWanModel  # noqa: E402
from quant.schemes import QuantConfig, check_supported  # noqa: E402
from scripts.video import Mp4Writer, latency_plot, to_uint8  # noqa: E402

log = logging.getLogger("longlive_fast")

VAE_STRIDE = 8
VAE_FILE = "Wan2.1_VAE.pth"
T5_FILE = "models_t5_umt5-xxl-enc-bf16.pth"
TOKENIZER_DIR = "google/umt5-xxl"
TRAINED_SIZE = (480, 832)
ATTENTION = ("auto", "sdpa", "sdpa_cudnn", "fa3", "fa3_fp8", "flash_attn", "flex", "math")


@dataclass
class RunSpec:
    """A validated run: everything `run` needs, checked before any tensor is made."""
    model: ModelConfig
    generation: GenerationConfig
    latent_hw: tuple
    num_frames: int
    batch_size: int
    seed: int
    init_seed: int
    device: torch.device
    dtype: torch.dtype
    texts: list                 # per sample: list of prompt texts
    switch_frames: list         # per sample: list of switch frames
    vae: str                    # VAE preset
    checkpoint: dict            # paths; empty: random weights
    compile: CompileConfig
    quant: QuantConfig
    video: bool                 # decode and write the mp4
    fps: int
    memory_check: bool = True   # refuse, before building, a run whose estimated peak exceeds the GPU
    vae_channels_last: bool = False   # VAE convolutions in NDHWC (WanVAEDecoder.to_channels_last)
    vae_pad_in_conv: bool = True       # VAE convs zero-pad H, W themselves (WanVAEDecoder.pad_space_in_conv)
    vae_cudnn_benchmark: bool = True   # cuDNN times its algorithms for each VAE convolution shape (process-wide)
    vae_subpixel: bool = True          # compiled VAE: upsampling as one 2x2 conv of the 4 output phases
    vae_fused_norm: bool = True        # compiled VAE on CUDA: norm + SiLU + history in one Triton kernel
    vae_fused_norm_op: str = "opaque"  # that kernel as an opaque custom op or a triton_op (traced)
    vae_cuda_graphs: bool = True       # compiled VAE with compile.cuda_graphs: each pass replayed from a CUDA graph
    vae_conv_channels: int = 128       # compiled VAE: residual convs with fewer output channels compute this many
    vae_head_taps: bool = True         # compiled VAE with the fused norm: the head conv through its taps' products
    vae_attention_gemms: bool = True   # compiled VAE: the middle attention as two GEMMs (float32 logits), not SDPA


def _int(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field}: {value!r} is not an integer")
    return value


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device: {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {name!r} requested but no CUDA GPU is available; use device=cpu or auto")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device: {name!r} is not supported; use auto, cpu, cuda or cuda:N")
    return dev


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    choices = {"bfloat16": torch.bfloat16, "float32": torch.float32}
    if name not in choices:
        raise ValueError(f"dtype: {name!r} is not supported; use auto, bfloat16 or float32")
    return choices[name]


def _schedule(texts, switch_frames, where: str):
    texts = list(texts or [])
    switch_frames = list(switch_frames or [])
    if not texts:
        raise ValueError(f"{where}.texts is empty; give at least one prompt")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"{where}.texts[{i}] is empty; give every prompt some text")
    if len(switch_frames) != len(texts) - 1:
        raise ValueError(f"{where}: {len(texts)} texts need {len(texts) - 1} switch_frames, got "
                         f"{len(switch_frames)}; give one switch frame between consecutive prompts")
    return texts, switch_frames


PROMPT_FILE_KEYS = {"prompts", "texts", "switch_frames"}


def read_prompt_file(path, default_switch, batch: int) -> list:
    """A JSON-lines prompt file, one sample per line: {"prompts": [...]} as LongLive's
    interactive_example.jsonl (or "texts"), optionally with its own "switch_frames"; every line is
    checked, the first batch_size are used. Returns [(texts, switch_frames)] per sample."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"prompts.file: {path} does not exist")
    lines = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.strip()]
    if not lines:
        raise ValueError(f"prompts.file: {path} is empty; give one JSON line per sample, e.g. {{\"prompts\": [\"...\"]}}")
    if len(lines) < batch:
        raise ValueError(f"prompts.file: {path} has {len(lines)} prompt lines but batch_size={batch}; "
                         "give one line per sample")
    scheds = []
    for n, line in lines:                      # every line is checked; the first batch_size are used
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"prompts.file: {path} line {n} is not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(item, dict):
            raise ValueError(f"prompts.file: {path} line {n} must be a JSON object with a \"prompts\" list")
        unknown = sorted(set(item) - PROMPT_FILE_KEYS)
        if unknown:
            raise ValueError(f"prompts.file: {path} line {n} has unknown keys {unknown}; "
                             f"allowed: {sorted(PROMPT_FILE_KEYS)}")
        texts = item.get("prompts", item.get("texts"))
        if not isinstance(texts, list):
            raise ValueError(f"prompts.file: {path} line {n} needs a \"prompts\" list of strings")
        scheds.append(_schedule(texts, item.get("switch_frames", default_switch), f"prompts.file line {n}"))
    return scheds[:batch]


def validate(cfg: DictConfig) -> RunSpec:
    """Check the whole configuration; raise ValueError with a one-line message naming the field."""
    model_cfg = model_preset(cfg.model.preset)
    gen = GenerationConfig.from_dict(OmegaConf.to_container(cfg.generation, resolve=True))
    height, width = _int(cfg.model.height, "model.height"), _int(cfg.model.width, "model.width")
    unit = VAE_STRIDE * model_cfg.patch_size[1]
    for name, v in (("model.height", height), ("model.width", width)):
        if v <= 0 or v % unit:
            raise ValueError(f"{name}: {v} is not a positive multiple of {unit} (VAE stride x patch)")
    num_frames = _int(cfg.num_frames, "num_frames")
    check_num_frames(num_frames, gen.num_frame_per_block)
    batch = _int(cfg.batch_size, "batch_size")
    if batch < 1:
        raise ValueError(f"batch_size: {batch} must be >= 1")
    seed = _int(cfg.seed, "seed")
    p = cfg.prompts
    if p.get("file"):
        scheds = read_prompt_file(p.file, p.get("switch_frames"), batch)
    elif p.get("samples"):
        if len(p.samples) != batch:
            raise ValueError(f"prompts.samples has {len(p.samples)} schedules but batch_size={batch}; "
                             "give one per sample")
        scheds = [_schedule(s.get("texts"), s.get("switch_frames"), f"prompts.samples[{i}]")
                  for i, s in enumerate(p.samples)]
    else:
        scheds = [_schedule(p.texts, p.switch_frames, "prompts")] * batch
    for i, (_, sw) in enumerate(scheds):
        switch_block_starts([_int(f, "prompts.switch_frames") for f in sw], num_frames,
                            gen.num_frame_per_block, "prompts.switch_frames" + (f" (sample {i})" if batch > 1 else ""))
    device = resolve_device(cfg.device)
    set_cublas_workspace(str(cfg.get("cublas_workspace", "default")))   # before the run's first GEMM
    if cfg.model.vae not in VAE_PRESETS:
        raise ValueError(f"model.vae: {cfg.model.vae!r} is not one of {sorted(VAE_PRESETS)}")
    if cfg.compile.mode not in MODES:
        raise ValueError(f"compile: {cfg.compile.mode!r} is not one of {sorted(MODES)}")
    if cfg.attention.backend not in ATTENTION:
        raise ValueError(f"attention: {cfg.attention.backend!r} is not one of {list(ATTENTION)}")
    if cfg.attention.backend in CUDA_ONLY and device.type != "cuda":
        raise ValueError(f"attention={cfg.attention.backend} needs a CUDA GPU; use attention=sdpa on the CPU")
    if cfg.output.video and cfg.output.get("mp4", True) and importlib.util.find_spec("av") is None:
        raise ValueError("output.video=true writes an mp4 with PyAV, which is not installed: pip install av, or "
                         "output.mp4=false to decode and time the video without writing it, or output.video=false")
    compile_cfg = CompileConfig(mode=cfg.compile.mode, attention=cfg.attention.backend, cache_dir=cfg.compile.cache_dir,
                                cuda_graphs=bool(cfg.compile.get("cuda_graphs", False)),
                                levers=tuple(cfg.compile.get("levers", ())))
    compile_cfg.check_device(device)
    quant = QuantConfig(scheme=cfg.quant.scheme, exclude=tuple(cfg.quant.exclude))
    check_supported(quant.scheme, device)
    checkpoint = check_checkpoint(cfg.checkpoint, cfg.model.preset)
    if checkpoint and (height, width) != TRAINED_SIZE:
        log.warning("model.height/width %dx%d: Wan2.1-T2V-1.3B and LongLive were trained at %dx%d; "
                    "other sizes run but the video may degrade", height, width, *TRAINED_SIZE)
    return RunSpec(model_cfg, gen, (height // VAE_STRIDE, width // VAE_STRIDE), num_frames, batch, seed,
                   _int(cfg.model.init_seed, "model.init_seed"), device, resolve_dtype(cfg.dtype, device),
                   [s[0] for s in scheds], [s[1] for s in scheds], cfg.model.vae, checkpoint,
                   compile_cfg,
                   quant, bool(cfg.output.video), _int(cfg.output.fps, "output.fps"),
                   bool(cfg.get("memory_check", True)), bool(cfg.output.get("vae_channels_last", False)),
                   bool(cfg.output.get("vae_pad_in_conv", True)), bool(cfg.output.get("vae_cudnn_benchmark", True)),
                   bool(cfg.output.get("vae_subpixel", True)), bool(cfg.output.get("vae_fused_norm", True)),
                   _fused_norm_op(cfg.output.get("vae_fused_norm_op", "opaque")),
                   bool(cfg.output.get("vae_cuda_graphs", True)),
                   _conv_channels(cfg.output.get("vae_conv_channels", 128)),
                   bool(cfg.output.get("vae_head_taps", True)),
                   bool(cfg.output.get("vae_attention_gemms", True)))


def _conv_channels(value) -> int:
    value = _int(value, "output.vae_conv_channels")
    if value < 0:
        raise ValueError(f"output.vae_conv_channels={value}: 0 (off) or the output channels to compute")
    return value


def _fused_norm_op(value) -> str:
    if value not in VAE_NORM_OPS:
        raise ValueError(f"output.vae_fused_norm_op={value!r}: one of opaque (a custom op, the default) or traced "
                         "(a triton_op)")
    return str(value)


def check_checkpoint(ck: DictConfig, preset: str) -> dict:
    """Every file the checkpoint configuration names must exist; returns the resolved paths."""
    paths = {k: ck.get(k) for k in ("wan_dir", "generator", "lora")}
    if not any(paths.values()):
        return {}
    if preset != "wan_1_3b":
        raise ValueError(f"checkpoint: real weights need model=wan_1_3b, not model={preset}; "
                         "or use checkpoint=none")
    if not paths["wan_dir"]:
        raise ValueError("checkpoint.wan_dir is not set: the VAE and the text encoder come from the "
                         "Wan2.1-T2V-1.3B folder")
    wan = Path(paths["wan_dir"])
    if not wan.is_dir():
        raise ValueError(f"checkpoint.wan_dir: {wan} is not a folder; point it at Wan2.1-T2V-1.3B")
    need = [VAE_FILE, T5_FILE, TOKENIZER_DIR] + ([] if paths["generator"] else [WAN_DIT_FILE])
    missing = [n for n in need if not (wan / n).exists()]
    if missing:
        raise ValueError(f"checkpoint.wan_dir: {wan} lacks {', '.join(missing)}; download the full "
                         "Wan-AI/Wan2.1-T2V-1.3B release there")
    for key in ("generator", "lora"):
        if paths[key] and not Path(paths[key]).is_file():
            raise ValueError(f"checkpoint.{key}: {paths[key]} does not exist")
    rank = _int(ck.lora_rank, "checkpoint.lora_rank")
    if rank <= 0:
        raise ValueError(f"checkpoint.lora_rank: {rank} must be > 0")
    return {**paths, "use_ema": bool(ck.use_ema), "lora_rank": rank, "lora_alpha": float(ck.lora_alpha)}


class BlockTimer:
    """Marks on the device timeline: CUDA events on a GPU, the host clock on the CPU.

    `lap()` marks and waits for the device to reach the mark: ms since the previous mark (live display;
    keeps only the last mark). `mark()` does not wait; `laps_ms()` reads every interval at the end with
    one sync (benchmarks: nothing syncs inside the timed run)."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.marks = []
        self.mark()

    def mark(self) -> None:
        if self.cuda:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            self.marks.append(ev)
        else:
            self.marks.append(time.perf_counter())

    def _ms(self, a, b) -> float:
        return a.elapsed_time(b) if self.cuda else (b - a) * 1e3

    def lap(self) -> float:
        self.mark()
        if self.cuda:
            self.marks[-1].synchronize()
        ms = self._ms(*self.marks[-2:])
        self.marks = self.marks[-1:]
        return ms

    def laps_ms(self) -> list:
        if self.cuda:
            torch.cuda.synchronize()
        return [self._ms(a, b) for a, b in zip(self.marks, self.marks[1:])]


def plan_memory(spec: RunSpec, cfg: DictConfig, live: bool = False) -> MemoryPlan:
    """The run's estimated peak memory (model/memory.py), before anything is built: logged, and on a GPU
    a ValueError when it exceeds the card's memory less 0.5 GiB for the CUDA context (unless
    memory_check=false). `live` keeps the text encoder resident and encodes one prompt at a time."""
    from model.umt5 import UMT5_TINY, UMT5_XXL
    real = bool(spec.checkpoint)
    F = spec.generation.num_frame_per_block
    anywhere = live or spec.compile.mode != "none"      # live prompts; the warm-up re-caches at every start
    switches = None if anywhere else [s for sw in spec.switch_frames
                                      for s in switch_block_starts(sw, spec.num_frames, F)]
    plan = estimate(spec.model, spec.generation, spec.batch_size, spec.latent_hw, spec.dtype,
                    quant=spec.quant.scheme, quant_exclude=spec.quant.exclude, vae=spec.video,
                    vae_per_frame=bool(cfg.output.vae_per_frame), vae_cfg=VAE_PRESETS[spec.vae],
                    text_encoder=UMT5_XXL if real else replace(UMT5_TINY, dim=spec.model.text_dim),
                    text_encoder_dtype=spec.dtype if real else torch.float32, text_encoder_resident=live,
                    prompts_per_encode=1 if live else max(len(t) for t in spec.texts), switch_starts=switches,
                    compiled_vae=spec.compile.mode != "none", fused_vae_norm=fused_vae_norm_applies(spec))
    log.info("memory: %s", plan.summary())
    if spec.device.type == "cuda" and spec.memory_check:
        props = torch.cuda.get_device_properties(spec.device)
        fixes = [f for f, applies in (
            ("a lower batch_size", spec.batch_size > 1),
            ("output.vae_per_frame=true", spec.video and not cfg.output.vae_per_frame),
            ("quant=fp8dq_row or int8wo", spec.quant.scheme == "none"),
            ("output.video=false", spec.video and not live)) if applies]
        check_fits(plan, props.total_memory, props.name, fixes)
    return plan


def compile_cache_stats() -> dict:
    """Hits, misses and bypasses of Inductor's FX graph cache and AOTAutograd's cache so far in this process
    (Dynamo's counters): a warm start whose compiles all hit spends its warm-up on loading and CUDA graphs."""
    from torch._dynamo.utils import counters
    return {f"{group}.{k}": int(v) for group in ("inductor", "aot_autograd") for k, v in sorted(counters[group].items())
            if "cache" in k}


def run_summary(cfg: DictConfig, spec: RunSpec, blocks: list, setup_s: float, warmup_s,
                plan: MemoryPlan = None) -> dict:
    """The part of timings.json every run writes: what ran where, and its block-time summary."""
    F = spec.generation.num_frame_per_block
    vae_ms = [b["vae_ms"] for b in blocks if "vae_ms" in b]
    return {
        "device": torch.cuda.get_device_name(spec.device) if spec.device.type == "cuda" else "cpu",
        "dtype": str(spec.dtype).removeprefix("torch."), "model": cfg.model.preset,
        "checkpoint": bool(spec.checkpoint), "attention": get_backend(), "compile": spec.compile.mode,
        "cuda_graphs": spec.compile.cuda_graphs, "levers": list(spec.compile.levers),
        "quant": spec.quant.scheme, "seed": spec.seed, "setup_s": setup_s, "warmup_s": warmup_s,
        "generation": OmegaConf.to_container(cfg.generation, resolve=True),
        "peak_mem_gib": torch.cuda.max_memory_allocated(spec.device) / 2**30 if spec.device.type == "cuda" else None,
        "peak_reserved_gib": torch.cuda.max_memory_reserved(spec.device) / 2**30 if spec.device.type == "cuda" else None,
        "estimated_peak_gib": plan.total_gib if plan else None,
        "vae_cuda_graphs": spec.video and vae_cuda_graphs_apply(spec),
        "total_s": (sum(b["ms"] for b in blocks) + sum(vae_ms)) / 1e3,
        **summarize(blocks, spec.generation),
        "vae_ms_per_latent_frame": statistics.median(vae_ms[1:] or vae_ms) / F if vae_ms else None,
    }


def summarize(blocks: list, gen: GenerationConfig) -> dict:
    """Steady-state ms per latent frame and prompt-switch latencies (SPEC.md section 2)."""
    steady = [b["ms"] for i, b in enumerate(blocks)
              if b["first_frame"] >= gen.local_attn_size and not b["switched"]]
    switches = [blocks[i]["ms"] - blocks[i - 1]["ms"] for i, b in enumerate(blocks) if b["switched"] and i > 0]
    F = gen.num_frame_per_block
    return {
        "steady_ms_per_latent_frame": statistics.median(steady) / F if steady else None,
        "steady_blocks": len(steady),
        "switch_latency_ms": switches,
        "switch_latency_ms_median": statistics.median(switches) if switches else None,
    }


def build_model(spec: RunSpec) -> CausalWanModel:
    """The DiT on the run's device and dtype: the checkpoint's weights, or random ones, drawn on that device (on a
    GPU the same seed gives other weights than on the CPU; drawing the 1.3B model's on the CPU took 10-16 s of
    every start on the H100 machines, BENCHMARKS.md, warm start)."""
    ck = spec.checkpoint
    if ck:
        return load_dit(spec.model, spec.dtype, spec.device, wan_dir=ck["wan_dir"], generator=ck["generator"],
                        use_ema=ck["use_ema"], lora=ck["lora"], lora_rank=ck["lora_rank"],
                        lora_alpha=ck["lora_alpha"])
    with torch.device(spec.device):
        model = CausalWanModel(spec.model).to(spec.dtype)
    gen_device = spec.device if spec.device.type == "cuda" else "cpu"
    return model.init_random(torch.Generator(gen_device).manual_seed(spec.init_seed)).eval()


def build_vae(spec: RunSpec) -> WanVAEDecoder:
    """The streaming VAE decoder, BF16 on a GPU (never quantized): Wan2.1_VAE.pth, or random weights;
    channels-last when `output.vae_channels_last`; with `output.vae_pad_in_conv` its convolutions zero-pad
    height and width themselves (no padded copy of each input). The compiled-only options
    (`output.vae_subpixel`, `output.vae_fused_norm`, `output.vae_cuda_graphs`) are applied by compile_vae
    (`vae_compile_options`). With
    `output.vae_cudnn_benchmark`, cuDNN times its algorithms for each convolution shape on first use (a
    process-wide flag: the DiT has no convolution) instead of taking its heuristic's choice, which on the H100
    is an Ampere kernel for 21 of a block's convolutions (BENCHMARKS.md, VAE)."""
    if spec.vae_cudnn_benchmark and spec.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if spec.checkpoint:
        vae = load_vae_decoder(Path(spec.checkpoint["wan_dir"]) / VAE_FILE, VAE_PRESETS[spec.vae],
                               spec.dtype, spec.device)
    else:
        vae = WanVAEDecoder(VAE_PRESETS[spec.vae]).init_random(torch.Generator().manual_seed(spec.init_seed + 1))
        vae = vae.to(device=spec.device, dtype=spec.dtype).eval().requires_grad_(False)
    vae.pad_space_in_conv(spec.vae_pad_in_conv)
    return vae.to_channels_last() if spec.vae_channels_last else vae


def fused_vae_norm_applies(spec: RunSpec, compiled: bool = None) -> bool:
    """Whether compile_vae will fuse the VAE's norms (compiled run, CUDA, Triton, channels-last). `compiled`:
    whether the VAE is compiled (default: the run's compile mode; the benchmark passes each path's)."""
    from compile.recipe import fused_vae_norm_unavailable
    compiled = spec.compile.mode != "none" if compiled is None else compiled
    return (compiled and spec.vae_fused_norm
            and fused_vae_norm_unavailable(spec.device, spec.vae_channels_last) is None)


def vae_cuda_graphs_apply(spec: RunSpec, compile_cfg: CompileConfig = None) -> bool:
    """Whether compile_vae replays the VAE's passes from CUDA graphs (recipe.vae_cuda_graphs_apply with
    `output.vae_cuda_graphs`). `compile_cfg`: the path's (default the run's; the benchmark passes each)."""
    from compile.recipe import vae_cuda_graphs_apply as applies
    return applies(compile_cfg or spec.compile, spec.vae_cuda_graphs)


def vae_compile_options(spec: RunSpec) -> dict:
    """compile_vae's keyword arguments from the run's output options (they act on compiled VAEs only)."""
    return dict(subpixel=spec.vae_subpixel, fused_norm=spec.vae_fused_norm, fused_norm_op=spec.vae_fused_norm_op,
                cuda_graphs=spec.vae_cuda_graphs, conv_channels=spec.vae_conv_channels,
                head_taps=spec.vae_head_taps, attention_gemms=spec.vae_attention_gemms)


def build_prompt_encoder(spec: RunSpec):
    """UMT5-XXL from the Wan folder, or a random-weight UMT5 of the same architecture (byte tokenizer)."""
    from model.umt5 import UMT5PromptEncoder
    if spec.checkpoint:
        wan = Path(spec.checkpoint["wan_dir"])
        return UMT5PromptEncoder.from_wan_checkpoint(wan / T5_FILE, wan / TOKENIZER_DIR, dtype=spec.dtype,
                                                     device=spec.device)
    return UMT5PromptEncoder.tiny_random(spec.model.text_dim, seed=spec.init_seed, text_len=spec.model.text_len,
                                         device=spec.device)


def encode_schedules(spec: RunSpec, encoder=None) -> list:
    """Every sample's prompt schedule, all prompts encoded ahead of the stream (a switch costs no encoding)."""
    encoder = encoder or build_prompt_encoder(spec)
    schedules = []
    for texts, switch in zip(spec.texts, spec.switch_frames):
        embeds = encoder.encode(texts)
        starts = [0] + switch_block_starts(switch, spec.num_frames, spec.generation.num_frame_per_block)
        schedules.append([PromptSegment(s, e, t) for s, e, t in zip(starts, embeds, texts)])
    return schedules


def seeded_noise(spec: RunSpec) -> SeededNoise:
    return SeededNoise([spec.seed + i for i in range(spec.batch_size)], (spec.model.in_dim, *spec.latent_hw),
                       spec.dtype, spec.device)


class NonFiniteError(RuntimeError):
    """A block's latents hold NaN or Inf: the run stops; what was made before it is kept."""


def non_finite(block, frames_per_block: int, out_dir: Path, context: str = ""):
    """A NonFiniteError for a block whose latents hold NaN or Inf, else None. Reads one flag when the
    block is handed out anyway (its frames or latents go to the host): no extra sync inside a block."""
    if torch.isfinite(block.latents).all().item():
        return None
    return NonFiniteError(f"non-finite latents in block {block.index} (latent frames {block.first_frame}-"
                          f"{block.first_frame + frames_per_block - 1}); stopped, the {block.index} blocks "
                          f"before it kept in {out_dir}" + (f"; config: {context}" if context else ""))


def save_tensors(out_dir: Path, tensors: dict) -> None:
    """latents.safetensors, written atomically (nothing when `tensors` is empty)."""
    if tensors:
        from safetensors.torch import save_file
        tmp = out_dir / ".latents.tmp.safetensors"
        save_file(tensors, str(tmp))
        os.replace(tmp, out_dir / "latents.safetensors")


def check_writable(out_dir: Path) -> None:
    """Fail before any model work when the output folder cannot be written."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write_probe"
        probe.write_bytes(b"0")
        probe.unlink()
    except OSError as e:
        raise OSError(f"output folder {out_dir} is not writable ({e.strerror}); "
                      "set hydra.run.dir to a writable folder") from None


def run(cfg: DictConfig, out_dir: Path) -> dict:
    spec = validate(cfg)
    check_writable(out_dir)
    plan = plan_memory(spec, cfg)
    if not spec.checkpoint:
        log.info("no checkpoint: DiT, VAE and text encoder have random weights (seed %d); the video is noise "
                 "and proves the pipeline, not the model", spec.init_seed)
    torch.set_grad_enabled(False)
    t0 = time.perf_counter()
    schedules = encode_schedules(spec)
    model = optimize(build_model(spec), spec.compile, spec.quant)
    vae = compile_vae(build_vae(spec), spec.compile, **vae_compile_options(spec)) if spec.video else None
    pipe = use_cuda_graphs(StreamingPipeline(model, spec.generation, spec.batch_size, spec.latent_hw), spec.compile)
    setup_s = time.perf_counter() - t0
    log.info("model %s on %s in %s: %d tokens per latent frame, attention %s, quant %s, setup %.1f s",
             cfg.model.preset, spec.device, str(spec.dtype).removeprefix("torch."), pipe.frame_tokens,
             get_backend(), spec.quant.scheme, setup_s)
    warmup_s, cache_stats = None, None
    if spec.compile.mode != "none":
        warmup_s = warm_up(pipe, schedules, lambda: seeded_noise(spec), vae, cfg.output.vae_per_frame)
        cache_stats = compile_cache_stats()
        log.info("compile + warm-up: %.1f s (%s, every window fill level, re-cache and VAE shape); caches: %s",
                 warmup_s, spec.compile.mode, cache_stats)

    F = spec.generation.num_frame_per_block
    blocks, latents, quality = [], [], []
    stride = _int(cfg.output.quality_frames, "output.quality_frames")
    if spec.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(spec.device)
    names = ["video.mp4"] if spec.batch_size == 1 else [f"video_{i}.mp4" for i in range(spec.batch_size)]
    failure, first_frame_s = None, None
    with ExitStack() as stack:
        mp4 = vae is not None and cfg.output.get("mp4", True)             # output.mp4=false: decode and time only
        writers = [stack.enter_context(Mp4Writer(out_dir / n, fps=spec.fps)) for n in names] if mp4 else []
        stream = vae.new_stream(spec.batch_size, spec.latent_hw) if vae else None
        timer = BlockTimer(spec.device)
        bar = tqdm(pipe.stream(schedules, spec.num_frames, seeded_noise(spec)), total=spec.num_frames // F,
                   unit="block", desc="generate", file=sys.stdout)
        for block in bar:
            row = {"block": block.index, "first_frame": block.first_frame, "ms": timer.lap(),
                   "switched": list(block.switched)}
            failure = non_finite(block, F, out_dir,                   # nothing of a bad block reaches the files
                                 f"model={cfg.model.preset} dtype={spec.dtype} quant={spec.quant.scheme} "
                                 f"compile={spec.compile.mode} attention={get_backend()} seed={spec.seed}")
            if failure is not None:
                break
            if cfg.output.latents:
                latents.append(block.latents.cpu())
            if vae:
                frames = vae.decode_block(block.latents, stream, per_frame=cfg.output.vae_per_frame)  # [B, Fv, 3, H, W]
                row["vae_ms"] = timer.lap()
                for writer, sample in zip(writers, frames):
                    writer.write(sample)
                if stride:                                             # every stride-th video frame, for PSNR
                    quality.append(frames[:, ::stride].cpu())
            if not blocks:          # warm start: from building the model to the first decoded block
                first_frame_s = time.perf_counter() - t0
            blocks.append(row)
            e2e = row["ms"] + row.get("vae_ms", 0.0)
            bar.set_postfix_str(f"{row['ms'] / F:.1f} ms/latent frame DiT, {e2e / F:.1f} with VAE")
        bar.close()
    for i, writer in enumerate(writers):
        suffix = "" if spec.batch_size == 1 else f"_{i}"
        if writer.num_frames:
            writer.save_stills(out_dir / f"first_frame{suffix}.png", out_dir / f"last_frame{suffix}.png")

    saved = {}
    if latents:
        saved["latents"] = torch.cat(latents, dim=1).contiguous()
    if quality:
        saved["quality_frames"] = torch.from_numpy(
            np.stack([to_uint8(f) for f in torch.cat(quality, dim=1)])).contiguous()
    save_tensors(out_dir, saved)
    OmegaConf.save(cfg, out_dir / "config.yaml", resolve=True)
    timings = {
        **run_summary(cfg, spec, blocks, setup_s, warmup_s, plan),
        "batch_size": spec.batch_size, "num_frames": spec.num_frames, "frame_tokens": pipe.frame_tokens,
        "quality_frame_stride": stride, "first_frame_s": first_frame_s, "compile_cache": cache_stats,
        "video_frames": writers[0].num_frames if writers else 0,
        "blocks": blocks,
    }
    (out_dir / "timings.json").write_text(json.dumps(timings, indent=1))
    latency_plot(blocks, F, out_dir / "latency.png",
                 f"{cfg.model.preset}, {timings['device']}, compile={spec.compile.mode}, attention={get_backend()}")
    if failure is not None:
        raise failure
    steady = timings["steady_ms_per_latent_frame"]
    log.info("%d latent frames (%d video frames) in %.2f s; steady state %s; wrote %s", spec.num_frames,
             timings["video_frames"], timings["total_s"],
             f"{steady:.1f} ms per latent frame" if steady else "n/a (window never full)", out_dir)
    return timings


@hydra.main(version_base="1.3", config_path="../conf", config_name="generate")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    hc = HydraConfig.get()
    try:
        run(cfg, Path(hc.runtime.output_dir))
    except (ValueError, OSError, NonFiniteError) as e:
        log.error("error: %s", e)
        if hc.mode != RunMode.MULTIRUN:       # in a sweep, a bad combination skips that job only
            sys.exit(3 if isinstance(e, NonFiniteError) else 2)


if __name__ == "__main__":
    main()
