"""torchao weight (and activation) quantization of the DiT's Linear layers, chosen by module name.

Schemes are torchao config objects applied with `quantize_(model, config, filter_fn)`:

| scheme | weights | activations | GEMM |
| --- | --- | --- | --- |
| `none` | BF16 | BF16 | BF16 |
| `int8wo` | INT8 per channel | BF16 | weights dequantized in the kernel |
| `int8dq` | INT8 per channel | INT8 per token, dynamic | INT8 x INT8 |
| `fp8wo` | FP8 e4m3 per channel | BF16 | weights dequantized |
| `fp8dq_tensor` | FP8 per tensor | FP8 per tensor, dynamic | `_scaled_mm` (compute capability >= 8.9) |
| `fp8dq_row` | FP8 per row | FP8 per row, dynamic | `_scaled_mm` rowwise (compute capability >= 8.9) |

Only `nn.Linear` modules of the DiT are candidates; the patch embedding, text and time embeddings,
time projection and head stay in the model dtype by default (the layers LongLive's own FP8 release
keeps in BF16), and so does everything matched by `exclude` (fully qualified name prefixes). The
modulation vectors are parameters, not Linears, and are never quantized. The VAE and the text
encoder are never quantized: `quantize` accepts the DiT only.
"""
from dataclasses import dataclass, field

import torch
from torch import nn

SCHEMES = ("none", "int8wo", "int8dq", "fp8wo", "fp8dq_tensor", "fp8dq_row")
DEFAULT_EXCLUDE = ("patch_embedding", "text_embedding", "time_embedding", "time_projection", "head")
NEEDS_FP8_MATMUL = ("fp8dq_tensor", "fp8dq_row")


@dataclass(frozen=True)
class QuantConfig:
    scheme: str = "none"
    exclude: tuple = field(default=DEFAULT_EXCLUDE)     # fully qualified name prefixes kept unquantized

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"quant: {self.scheme!r} is not one of {list(SCHEMES)}")
        object.__setattr__(self, "exclude", tuple(self.exclude))


def torchao_config(scheme: str):
    from torchao.quantization import (Float8DynamicActivationFloat8WeightConfig, Float8WeightOnlyConfig,
                                      Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig, PerRow,
                                      PerTensor)
    # set_inductor_config=False: by default torchao's quantize_ turns on Inductor's coordinate-descent tuning
    # (all directions) for the whole process, which benchmarks every Triton kernel of every compiled shape
    # in the main process; the recipe owns the compiler flags (compile/recipe.py, step 3). On the H100 a
    # regional compile of a quantized block did not finish its first shape in 120-170 s with it on.
    off = dict(set_inductor_config=False)
    return {
        "int8wo": lambda: Int8WeightOnlyConfig(**off),
        "int8dq": lambda: Int8DynamicActivationInt8WeightConfig(**off),
        "fp8wo": lambda: Float8WeightOnlyConfig(**off),
        "fp8dq_tensor": lambda: Float8DynamicActivationFloat8WeightConfig(granularity=PerTensor(), **off),
        "fp8dq_row": lambda: Float8DynamicActivationFloat8WeightConfig(granularity=PerRow(), **off),
    }[scheme]()


def check_supported(scheme: str, device: torch.device) -> None:
    """Refuse, before any weights load, a scheme this device cannot run."""
    if scheme not in NEEDS_FP8_MATMUL:
        return
    if device.type != "cuda":
        raise ValueError(f"quant={scheme} needs an FP8 GPU (compute capability >= 8.9), not {device}; "
                         "use quant=fp8wo, int8dq or int8wo")
    major, minor = torch.cuda.get_device_capability(device)
    if (major, minor) < (8, 9):
        raise ValueError(f"quant={scheme} needs compute capability >= 8.9 but {torch.cuda.get_device_name(device)} "
                         f"has {major}.{minor}; use quant=int8dq or int8wo")


def selected(model: nn.Module, exclude) -> list:
    """Fully qualified names of the Linear layers a scheme quantizes."""
    return [fqn for fqn, m in model.named_modules()
            if isinstance(m, nn.Linear) and not any(fqn == e or fqn.startswith(e + ".") for e in exclude)]


def quantize(model, cfg: QuantConfig):
    """Quantize the DiT's selected Linears in place (before compiling); returns the model."""
    from model.wan import CausalWanModel
    if not isinstance(model, CausalWanModel):
        raise TypeError(f"quantize takes the DiT (CausalWanModel), not {type(model).__name__}: "
                        "the VAE and the text encoder stay unquantized")
    if cfg.scheme == "none":
        return model
    from torchao.quantization import quantize_
    names = set(selected(model, cfg.exclude))
    quantize_(model, torchao_config(cfg.scheme), filter_fn=lambda m, fqn: fqn in names)
    return model
