"""Loading the DiT from the official Wan2.1 / LongLive files, strictly and without silent casts.

Layouts (SPEC-wan section 8):
- Wan2.1-T2V-1.3B folder: `diffusion_pytorch_model.safetensors`, 825 tensors under the official keys;
- LongLive base `.pt`: {"generator": ..., "generator_ema": ..., ...} (or {"model": ...}), each the
  wrapper's state dict: "model." + the official keys ("_fsdp_wrapped_module." inside EMA keys);
  it replaces the Wan DiT weights whole;
- LongLive LoRA `.pt`: {"generator_lora": PEFT dict} or a bare PEFT dict,
  `base_model.model.blocks.N.<module>.lora_A.weight` [r, in] / `.lora_B.weight` [out, r], scale alpha/r.
  It is merged into the weights at load (W + (alpha/r) B A, in float32), so inference pays nothing.
Missing, unexpected and wrong-shaped keys are one error naming the first offenders and the file.
The model is built on the meta device and the tensors are assigned; they are cast only to the dtype
the configuration asks for, and the cast is logged.
"""
import logging
import re
from pathlib import Path

import torch

from .config import ModelConfig
from .rope import Rope3D
from .wan import CausalWanModel

log = logging.getLogger("longlive_fast")

WAN_DIT_FILE = "diffusion_pytorch_model.safetensors"


def read_state_dict(path) -> dict:
    """A state dict from .safetensors (memory-mapped) or a torch pickle (mmap, weights_only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path))
    return torch.load(path, map_location="cpu", mmap=True, weights_only=True)


def check_keys(expected: dict, state_dict: dict, source: str, show: int = 5) -> None:
    """Raise one ValueError naming the first `show` missing, unexpected and wrong-shaped keys."""
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [f"{k} {tuple(state_dict[k].shape)} != {tuple(expected[k])}"
              for k in expected if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k])]
    problems = []
    for what, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)):
        if items:
            more = f" (+{len(items) - show} more)" if len(items) > show else ""
            problems.append(f"{len(items)} {what}: {', '.join(items[:show])}{more}")
    if problems:
        raise ValueError(f"checkpoint {source} does not fit the model: " + "; ".join(problems))


def load_dit_weights(model: CausalWanModel, state_dict: dict, source: str = "<state dict>") -> CausalWanModel:
    """Copy official-key weights into an existing `model` (strict), cast to the model's dtype."""
    expected = {k: p.shape for k, p in model.state_dict().items()}
    check_keys(expected, state_dict, source)
    dtype = model.dtype
    model.load_state_dict({k: v.to(dtype) for k, v in state_dict.items()}, strict=True)
    return model


def generator_state_dict(ckpt: dict, use_ema: bool, source: str) -> dict:
    """The official-key DiT weights inside a LongLive checkpoint (or a bare state dict)."""
    key = "generator_ema" if use_ema else "generator"
    if key in ckpt:
        sd = ckpt[key]
    elif use_ema:
        raise ValueError(f"checkpoint {source} has no 'generator_ema' (keys: {sorted(ckpt)[:8]}); "
                         "set checkpoint.use_ema=false")
    elif "model" in ckpt and isinstance(ckpt["model"], dict):
        sd = ckpt["model"]
    else:
        sd = ckpt
    out = {}
    for k, v in sd.items():
        k = k.replace("_fsdp_wrapped_module.", "")
        out[k.removeprefix("model.")] = v
    return out


LORA_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.default)?\.weight$")


def lora_pairs(lora: dict, source: str) -> dict:
    """{module name: (A [r, in], B [out, r])} from a PEFT state dict (LongLive's lora.pt)."""
    lora = lora.get("generator_lora", lora)
    pairs, bad = {}, []
    for k, v in lora.items():
        m = LORA_KEY.match(k)
        if not m:
            bad.append(k)
            continue
        pairs.setdefault(m["module"], {})[m["ab"]] = v
    if bad:
        raise ValueError(f"LoRA file {source}: {len(bad)} keys are not PEFT lora_A/lora_B weights, e.g. {bad[:3]}")
    incomplete = [name for name, p in pairs.items() if len(p) != 2]
    if incomplete:
        raise ValueError(f"LoRA file {source}: modules with only one of lora_A/lora_B: {incomplete[:3]}")
    return {name: (p["A"], p["B"]) for name, p in pairs.items()}


def merge_lora(state_dict: dict, lora: dict, rank: int, alpha: float, source: str) -> dict:
    """W <- W + (alpha / rank) B A for every adapted Linear, computed in float32, stored in W's dtype."""
    pairs = lora_pairs(lora, source)
    if not pairs:
        raise ValueError(f"LoRA file {source} holds no adapters")
    unknown = [n for n in pairs if f"{n}.weight" not in state_dict]
    if unknown:
        raise ValueError(f"LoRA file {source} adapts modules the model does not have: {unknown[:3]}")
    out = dict(state_dict)
    for name, (a, b) in pairs.items():
        w = state_dict[f"{name}.weight"]
        if a.shape[0] != rank or b.shape[1] != rank:
            raise ValueError(f"LoRA file {source}: {name} has rank {a.shape[0]} but checkpoint.lora_rank={rank}; "
                             f"set checkpoint.lora_rank={a.shape[0]}")
        if (b.shape[0], a.shape[1]) != tuple(w.shape):
            raise ValueError(f"LoRA file {source}: {name} adapter [{b.shape[0]}, {a.shape[1]}] "
                             f"does not fit weight {list(w.shape)}")
        out[f"{name}.weight"] = (w.float() + (alpha / rank) * (b.float() @ a.float())).to(w.dtype)
    log.info("merged %d LoRA adapters (rank %d, alpha %g) from %s", len(pairs), rank, alpha, source)
    return out


def load_dit(model_cfg: ModelConfig, dtype: torch.dtype, device, wan_dir=None, generator=None,
             use_ema: bool = False, lora=None, lora_rank: int = 256, lora_alpha: float = 256) -> CausalWanModel:
    """Build the DiT on the meta device and assign the checkpoint's weights: the LongLive base checkpoint
    if given (it replaces Wan's DiT weights whole), else the Wan2.1 folder's; LoRA merged if given."""
    if generator is not None:
        source = str(generator)
        sd = generator_state_dict(read_state_dict(generator), use_ema, source)
    elif wan_dir is not None:
        source = str(Path(wan_dir) / WAN_DIT_FILE)
        sd = read_state_dict(source)
    else:
        raise ValueError("checkpoint: give checkpoint.wan_dir or checkpoint.generator (or use checkpoint=none)")
    with torch.device("meta"):
        model = CausalWanModel(model_cfg)
    check_keys({k: p.shape for k, p in model.state_dict().items()}, sd, source)
    if lora is not None:
        sd = merge_lora(sd, read_state_dict(lora), lora_rank, lora_alpha, str(lora))
    dtypes = sorted({str(v.dtype).removeprefix("torch.") for v in sd.values()})
    if dtypes != [str(dtype).removeprefix("torch.")]:
        log.info("casting %s weights (%s) to %s, as the run's dtype asks", source, "/".join(dtypes),
                 str(dtype).removeprefix("torch."))
    model.load_state_dict({k: v.to(device=device, dtype=dtype) for k, v in sd.items()}, strict=True, assign=True)
    model.rope = Rope3D(model_cfg.head_dim, model_cfg.rope_max_frames).to(device)   # tables are not in the file
    return model.eval()
