"""Loading DiT weights under the official Wan2.1 key names, strictly.

Missing, unexpected and wrong-shaped keys are one error that lists the first offenders and the file.
Tensors are cast to the dtype the model was built in (the config's choice), never to anything else.
"""
from pathlib import Path

import torch

from .wan import CausalWanModel


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
    """Copy official-key weights into `model` (strict), cast to the model's dtype."""
    expected = {k: p.shape for k, p in model.state_dict().items()}
    check_keys(expected, state_dict, source)
    dtype = model.dtype
    model.load_state_dict({k: v.to(dtype) for k, v in state_dict.items()}, strict=True)
    return model
