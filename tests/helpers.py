"""Shared builders for the tests: a small random model, prompt embeddings, schedules and a recorded run."""
import functools
from dataclasses import dataclass

import torch

from model.config import GenerationConfig, ModelConfig
from model.noise import SeededNoise
from model.pipeline import PromptSegment, StreamingPipeline
from model.wan import CausalWanModel

SMALL = ModelConfig(dim=64, ffn_dim=128, num_heads=2, num_layers=2, text_dim=32)
LATENT_HW = (4, 6)                                   # 2 x 3 patches: 6 tokens per latent frame
FRAME_SHAPE = (SMALL.in_dim, *LATENT_HW)


@functools.lru_cache(maxsize=None)
def small_model(seed: int = 0) -> CausalWanModel:
    """FP32 random model; shared between tests (nothing in the pipeline mutates it)."""
    return CausalWanModel(SMALL).float().eval().init_random(torch.Generator().manual_seed(seed))


@functools.lru_cache(maxsize=None)
def cpu_rowwise_fp8_mm() -> bool:
    """Whether this torch's CPU torch._scaled_mm takes per-row scales (2.13's does; 2.11's only per-tensor)."""
    a = torch.ones(16, 16).to(torch.float8_e4m3fn)
    try:
        torch._scaled_mm(a, a.t(), scale_a=torch.ones(16, 1), scale_b=torch.ones(1, 16), out_dtype=torch.bfloat16)
    except RuntimeError:
        return False
    return True


def norm_site_args(site: str, dtype=torch.bfloat16, device: str = "cuda"):
    """Arguments of compile/norm_kernel's add_norm functions at one of a block's three LayerNorm sites ("norm1":
    norm + modulation; "norm3": gated residual + affine norm; "norm2": residual + norm + modulation), without the
    frame count: 2 samples x 3 frames of 50 tokens, C = 1536 (not a power of 2), per-frame vectors as the block's
    strided views. Returns (args, frames)."""
    from model.wan import LayerNorm
    g = torch.Generator(device=device).manual_seed(0)
    b, f, t, c = 2, 3, 50, 1536
    x = torch.randn(b, f * t, c, device=device, generator=g).to(dtype)
    y = torch.randn(b, f * t, c, device=device, generator=g).to(dtype)
    m = (torch.randn(b, f, 6, 1, c, device=device, generator=g) * 0.3).to(dtype)
    shift, scale, gate = m[:, :, 0], m[:, :, 1], m[:, :, 2]
    norm = LayerNorm(c, 1e-6, affine=site == "norm3").to(device, dtype)
    if site == "norm3":
        with torch.no_grad():
            norm.weight.normal_(1, 0.2, generator=g)
            norm.bias.normal_(0, 0.2, generator=g)
    args = {"norm1": (x, None, None, norm, scale, shift), "norm3": (x, y, gate, norm, None, None),
            "norm2": (x, y, None, norm, scale, shift)}[site]
    return args, f


def prompt_embeds(seed: int, cfg: ModelConfig = SMALL) -> torch.Tensor:
    """Random text-encoder rows [text_len, text_dim]; rows past a random valid length are zero (T5 padding)."""
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(cfg.text_len, cfg.text_dim, generator=g)
    valid = int(torch.randint(1, cfg.text_len, (1,), generator=g))
    e[valid:] = 0
    return e


def schedule(switch_frames, prompt_seeds) -> list:
    """One sample's prompt schedule: prompt_seeds[0] at frame 0, prompt_seeds[k] at switch_frames[k-1]."""
    assert len(prompt_seeds) == len(switch_frames) + 1
    starts = [0] + list(switch_frames)
    return [PromptSegment(s, prompt_embeds(p)) for s, p in zip(starts, prompt_seeds)]


@dataclass
class Call:
    phase: str
    block: object
    step: object
    first_frame: int
    num_frames: int
    flow: torch.Tensor


@dataclass
class Run:
    latents: torch.Tensor
    calls: list
    blocks: list
    pipe: StreamingPipeline


def run(schedules, seeds, num_frames: int, gen: GenerationConfig = None, cache: str = "ring",
        model: CausalWanModel = None) -> Run:
    """Generate with SeededNoise(seeds); record every model call's flow and every block's `switched`."""
    gen = gen or GenerationConfig()
    model = model or small_model()
    pipe = StreamingPipeline(model, gen, len(schedules), LATENT_HW, cache=cache)
    noise = SeededNoise(seeds, FRAME_SHAPE, torch.float32, "cpu")
    calls = []

    def observe(rec):
        calls.append(Call(rec.phase, rec.block, rec.step, rec.first_frame, rec.num_frames, rec.flow.clone()))

    blocks = list(pipe.stream(schedules, num_frames, noise, observe))
    latents = torch.cat([b.latents for b in blocks], dim=1)
    return Run(latents, calls, blocks, pipe)
