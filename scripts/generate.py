"""Generate a video's latents block by block, switching prompts as scheduled.

    python scripts/generate.py                                  # tiny model, one prompt, 9 latent frames
    python scripts/generate.py prompts=interactive              # 6 prompts over 240 latent frames
    python scripts/generate.py model=wan_1_3b device=cuda       # the real shapes (random weights)

Writes into Hydra's run directory: latents.safetensors ([B, T, 16, H/8, W/8]), config.yaml (resolved)
and timings.json (per-block times, steady-state ms per latent frame, switch latencies).
Weights are random until checkpoint loading lands, and prompts go through a random-weight byte-level
encoder until UMT5 lands: the latents are real computation on meaningless weights.
"""
import json
import logging
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.config import GenerationConfig, ModelConfig, model_preset  # noqa: E402
from model.noise import SeededNoise  # noqa: E402
from model.pipeline import PromptSegment, StreamingPipeline, check_num_frames, switch_block_starts  # noqa: E402
from model.text import RandomPromptEncoder  # noqa: E402
from model.wan import CausalWanModel  # noqa: E402

log = logging.getLogger("longlive_fast")

VAE_STRIDE = 8


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
    check_num_frames(num_frames, gen.num_frame_per_block, model_cfg.rope_max_frames)
    batch = _int(cfg.batch_size, "batch_size")
    if batch < 1:
        raise ValueError(f"batch_size: {batch} must be >= 1")
    seed = _int(cfg.seed, "seed")
    p = cfg.prompts
    if p.get("samples"):
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
    return RunSpec(model_cfg, gen, (height // VAE_STRIDE, width // VAE_STRIDE), num_frames, batch, seed,
                   _int(cfg.model.init_seed, "model.init_seed"), device, resolve_dtype(cfg.dtype, device),
                   [s[0] for s in scheds], [s[1] for s in scheds])


class BlockTimer:
    """Wall time of each block on the device: CUDA events on a GPU, the host clock on the CPU."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.last = self._mark()

    def _mark(self):
        if self.cuda:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            return ev
        return time.perf_counter()

    def lap(self) -> float:
        """ms since the previous lap (waits for the device to reach this point)."""
        now = self._mark()
        if self.cuda:
            now.synchronize()
            ms = self.last.elapsed_time(now)
        else:
            ms = (now - self.last) * 1e3
        self.last = now
        return ms


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
    """The DiT on the run's device and dtype (random weights until checkpoint loading lands)."""
    with torch.device(spec.device):
        model = CausalWanModel(spec.model).to(spec.dtype)
    return model.init_random(torch.Generator().manual_seed(spec.init_seed)).eval()


def encode_schedules(spec: RunSpec) -> list:
    """Every sample's prompt schedule, all prompts encoded ahead of the stream."""
    encoder = RandomPromptEncoder(spec.model.text_len, spec.model.text_dim, seed=spec.init_seed)
    schedules = []
    for texts, switch in zip(spec.texts, spec.switch_frames):
        embeds = encoder.encode(texts)
        starts = [0] + switch_block_starts(switch, spec.num_frames, spec.generation.num_frame_per_block)
        schedules.append([PromptSegment(s, e, t) for s, e, t in zip(starts, embeds, texts)])
    return schedules


def seeded_noise(spec: RunSpec) -> SeededNoise:
    return SeededNoise([spec.seed + i for i in range(spec.batch_size)], (spec.model.in_dim, *spec.latent_hw),
                       spec.dtype, spec.device)


def run(cfg: DictConfig, out_dir: Path) -> dict:
    spec = validate(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    log.info("prompts: random-weight byte-level encoder (UMT5 not yet available); weights: random "
             "(seed %d): the latents carry no meaning, only their shapes, numerics and timings are real",
             spec.init_seed)
    torch.set_grad_enabled(False)
    t0 = time.perf_counter()
    model = build_model(spec)
    schedules = encode_schedules(spec)
    pipe = StreamingPipeline(model, spec.generation, spec.batch_size, spec.latent_hw)
    noise = seeded_noise(spec)
    setup_s = time.perf_counter() - t0
    log.info("model %s on %s in %s: %.1f M parameters, %d tokens per latent frame, setup %.1f s",
             cfg.model.preset, spec.device, str(spec.dtype).removeprefix("torch."),
             sum(p.numel() for p in model.parameters()) / 1e6, pipe.frame_tokens, setup_s)

    F = spec.generation.num_frame_per_block
    blocks, latents = [], []
    timer = BlockTimer(spec.device)
    bar = tqdm(pipe.stream(schedules, spec.num_frames, noise), total=spec.num_frames // F,
               unit="block", desc="generate", file=sys.stdout)
    for block in bar:
        ms = timer.lap()
        latents.append(block.latents.cpu())
        blocks.append({"block": block.index, "first_frame": block.first_frame, "ms": ms,
                       "switched": list(block.switched)})
        bar.set_postfix_str(f"{ms / F:.1f} ms/latent frame")
    bar.close()

    latents = torch.cat(latents, dim=1).contiguous()
    from safetensors.torch import save_file
    tmp = out_dir / "latents.safetensors.tmp"
    save_file({"latents": latents}, str(tmp))
    os.replace(tmp, out_dir / "latents.safetensors")
    OmegaConf.save(cfg, out_dir / "config.yaml", resolve=True)
    timings = {
        "device": torch.cuda.get_device_name(spec.device) if spec.device.type == "cuda" else "cpu",
        "dtype": str(spec.dtype).removeprefix("torch."),
        "model": cfg.model.preset, "batch_size": spec.batch_size, "num_frames": spec.num_frames,
        "frame_tokens": pipe.frame_tokens, "setup_s": setup_s,
        "total_s": sum(b["ms"] for b in blocks) / 1e3,
        **summarize(blocks, spec.generation),
        "blocks": blocks,
    }
    (out_dir / "timings.json").write_text(json.dumps(timings, indent=1))
    steady = timings["steady_ms_per_latent_frame"]
    log.info("%d latent frames in %.2f s; steady state %s; wrote %s", spec.num_frames, timings["total_s"],
             f"{steady:.1f} ms per latent frame" if steady else "n/a (window never full)", out_dir)
    return timings


@hydra.main(version_base="1.3", config_path="../conf", config_name="generate")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig
    try:
        run(cfg, Path(HydraConfig.get().runtime.output_dir))
    except ValueError as e:
        log.error("error: %s", e)
        sys.exit(2)


if __name__ == "__main__":
    main()
