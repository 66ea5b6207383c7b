"""Model and generation settings: one dataclass each, plus the named model presets."""
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ModelConfig:
    """Shapes of the causal Wan2.1 DiT. Defaults are Wan2.1-T2V-1.3B (SPEC-wan section 1)."""
    dim: int = 1536
    ffn_dim: int = 8960
    num_heads: int = 12
    num_layers: int = 30
    in_dim: int = 16                     # latent channels
    out_dim: int = 16
    patch_size: tuple = (1, 2, 2)        # (t, h, w); only t == 1 is supported
    freq_dim: int = 256                  # sinusoidal timestep embedding width
    text_dim: int = 4096                 # text-encoder output width
    text_len: int = 512                  # text rows attended by cross-attention (padding included)
    eps: float = 1e-6
    qk_norm: bool = True
    cross_attn_norm: bool = True
    rope_max_frames: int = 1024          # RoPE frame table; longer streams re-base positions (kv_cache.rebase)

    def __post_init__(self):
        if self.dim % self.num_heads:
            raise ValueError(f"model.dim={self.dim} is not a multiple of model.num_heads={self.num_heads}")
        if self.head_dim % 2:
            raise ValueError(f"model head_dim={self.head_dim} must be even for RoPE")
        if tuple(self.patch_size)[0] != 1:
            raise ValueError(f"model.patch_size={self.patch_size}: only a temporal patch of 1 is supported")
        object.__setattr__(self, "patch_size", tuple(self.patch_size))

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}; known: {sorted(known)}")
        return cls(**d)


PRESETS = {
    # Wan2.1-T2V-1.3B: 1.42 B parameters, 30 blocks of 12 heads x 128.
    "wan_1_3b": ModelConfig(),
    # A few million parameters with the real head_dim (so RoPE splits 44/42/42 as in the real model):
    # a 3-block video runs on two CPU cores in seconds.
    "tiny": ModelConfig(dim=256, ffn_dim=1024, num_heads=2, num_layers=4, text_dim=256),
}


def model_preset(name: str) -> ModelConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]


@dataclass(frozen=True)
class GenerationConfig:
    """How a video is generated: the LongLive 1.0 interactive settings (SPEC.md section 1, SPEC-wan section 9)."""
    num_frame_per_block: int = 3
    local_attn_size: int = 12            # latent frames attended in all, sink included
    sink_size: int = 3                   # first latent frames kept forever
    global_sink: bool = True             # keep the sink across prompt switches
    context_noise: float = 0.0           # timestep of the clean-context pass and of the re-cache pass
    timestep_shift: float = 5.0
    denoising_steps: tuple = (1000, 750, 500, 250)
    warp_denoising_step: bool = True
    num_train_timesteps: int = 1000

    def __post_init__(self):
        object.__setattr__(self, "denoising_steps", tuple(int(s) for s in self.denoising_steps))
        if self.num_frame_per_block < 1:
            raise ValueError(f"generation.num_frame_per_block={self.num_frame_per_block} must be >= 1")
        if self.local_attn_size < 1:
            raise ValueError(f"generation.local_attn_size={self.local_attn_size}: must be a positive number of "
                             "latent frames (global attention, -1, is not supported)")
        if not 0 <= self.sink_size:
            raise ValueError(f"generation.sink_size={self.sink_size} must be >= 0")
        if self.window_size < self.num_frame_per_block:
            raise ValueError(f"generation.local_attn_size={self.local_attn_size} minus sink_size={self.sink_size} "
                             f"leaves {self.window_size} window frames, fewer than a block "
                             f"({self.num_frame_per_block}): raise local_attn_size or lower sink_size")
        if not self.denoising_steps or any(not 0 < s <= self.num_train_timesteps for s in self.denoising_steps):
            raise ValueError(f"generation.denoising_steps={list(self.denoising_steps)} must be non-empty, "
                             f"each in (0, {self.num_train_timesteps}]")

    @property
    def window_size(self) -> int:
        """Frames of the rolling window after the sink."""
        return self.local_attn_size - self.sink_size

    @classmethod
    def from_dict(cls, d: dict) -> "GenerationConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown generation config keys {unknown}; known: {sorted(known)}")
        return cls(**d)
