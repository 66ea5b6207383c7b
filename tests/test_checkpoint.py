"""Loading official-key checkpoints: every layout round-trips, LoRA merges exactly, bad files fail clearly."""
import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from torch.testing import assert_close

from model.checkpoint import WAN_DIT_FILE, load_dit, merge_lora

from helpers import SMALL, run, schedule, small_model

SCHED = [schedule([6], [1, 2])]
TARGETS = [f"blocks.{i}.{m}" for i in range(SMALL.num_layers)
           for m in ("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
                     "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2")]


def official_sd(model):
    return {k: v.clone().contiguous() for k, v in model.state_dict().items()}


def outputs(model):
    return run(SCHED, [3], 9, model=model).latents


def lora_file(rank=4, seed=0, peft_prefix="base_model.model.", suffix=""):
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for name in TARGETS:
        w = small_model().get_submodule(name).weight
        sd[f"{peft_prefix}{name}.lora_A{suffix}.weight"] = 0.1 * torch.randn(rank, w.shape[1], generator=g)
        sd[f"{peft_prefix}{name}.lora_B{suffix}.weight"] = 0.1 * torch.randn(w.shape[0], rank, generator=g)
    return {"generator_lora": sd}


def test_wan_folder_round_trip(tmp_path):
    ref = small_model()
    save_file(official_sd(ref), str(tmp_path / WAN_DIT_FILE))
    m = load_dit(SMALL, torch.float32, "cpu", wan_dir=tmp_path)
    for k, v in ref.state_dict().items():
        assert torch.equal(m.state_dict()[k], v), k
    assert torch.equal(outputs(m), outputs(ref))


@pytest.mark.parametrize("layout", ["generator", "generator_ema", "model", "bare"])
def test_longlive_checkpoint_round_trip(tmp_path, layout):
    ref = small_model()
    sd = official_sd(ref)
    noise = {k: torch.randn_like(v) for k, v in sd.items()}           # a decoy that must not be picked
    if layout == "generator":
        ckpt = {"generator": {f"model.{k}": v for k, v in sd.items()},
                "generator_ema": {f"model.{k}": v for k, v in noise.items()}, "step": 7}
    elif layout == "generator_ema":
        ckpt = {"generator": {f"model.{k}": v for k, v in noise.items()},
                "generator_ema": {f"model._fsdp_wrapped_module.{k}": v for k, v in sd.items()}}
    elif layout == "model":
        ckpt = {"model": {f"model.{k}": v for k, v in sd.items()}}
    else:
        ckpt = sd
    torch.save(ckpt, tmp_path / "longlive_base.pt")
    m = load_dit(SMALL, torch.float32, "cpu", generator=tmp_path / "longlive_base.pt",
                 use_ema=layout == "generator_ema")
    assert torch.equal(outputs(m), outputs(ref))


class OnTheFlyLoRA(nn.Module):
    """y = W x + b + (alpha / r) B (A x): LoRA as PEFT applies it, unmerged."""

    def __init__(self, base: nn.Linear, a, b, scale):
        super().__init__()
        self.base, self.a, self.b, self.scale = base, a, b, scale

    def forward(self, x):
        return self.base(x) + self.scale * (x @ self.a.T) @ self.b.T


@pytest.mark.parametrize("suffix", ["", ".default"])
def test_lora_merged_equals_on_the_fly(tmp_path, suffix):
    rank, alpha = 4, 8.0
    save_file(official_sd(small_model()), str(tmp_path / WAN_DIT_FILE))
    lora = lora_file(rank, suffix=suffix)
    torch.save(lora, tmp_path / "lora.pt")
    merged = load_dit(SMALL, torch.float32, "cpu", wan_dir=tmp_path, lora=tmp_path / "lora.pt",
                      lora_rank=rank, lora_alpha=alpha)
    fly = load_dit(SMALL, torch.float32, "cpu", wan_dir=tmp_path)
    sd = lora["generator_lora"]
    for name in TARGETS:
        parent, child = name.rsplit(".", 1)
        a = sd[f"base_model.model.{name}.lora_A{suffix}.weight"]
        b = sd[f"base_model.model.{name}.lora_B{suffix}.weight"]
        setattr(fly.get_submodule(parent), child, OnTheFlyLoRA(fly.get_submodule(name), a, b, alpha / rank))
    out_merged, out_fly, base = outputs(merged), outputs(fly), outputs(small_model())
    assert_close(out_merged, out_fly, atol=1e-5, rtol=1e-5)
    assert (out_merged - base).abs().max() > 1e-2                     # the adapters really change the output


def test_lora_rank_mismatch(tmp_path):
    save_file(official_sd(small_model()), str(tmp_path / WAN_DIT_FILE))
    torch.save(lora_file(rank=4), tmp_path / "lora.pt")
    with pytest.raises(ValueError, match=r"rank 4 but checkpoint.lora_rank=256; set checkpoint.lora_rank=4"):
        load_dit(SMALL, torch.float32, "cpu", wan_dir=tmp_path, lora=tmp_path / "lora.pt")


def test_lora_unknown_module():
    sd = official_sd(small_model())
    lora = {"base_model.model.blocks.9.ffn.0.lora_A.weight": torch.zeros(4, 64),
            "base_model.model.blocks.9.ffn.0.lora_B.weight": torch.zeros(128, 4)}
    with pytest.raises(ValueError, match="adapts modules the model does not have"):
        merge_lora(sd, lora, 4, 4, "lora.pt")


@pytest.mark.parametrize("fault, message", [
    ("missing", r"1 missing: head\.head\.bias"),
    ("extra", r"1 unexpected: blocks\.0\.bogus"),
    ("shape", r"1 wrong shape: blocks\.1\.ffn\.0\.weight \(128, 32\) != \(128, 64\)"),
])
def test_bad_checkpoint_names_offender_and_file(tmp_path, fault, message):
    sd = official_sd(small_model())
    if fault == "missing":
        del sd["head.head.bias"]
    elif fault == "extra":
        sd["blocks.0.bogus"] = torch.zeros(3)
    else:
        sd["blocks.1.ffn.0.weight"] = torch.zeros(128, 32)
    save_file(sd, str(tmp_path / WAN_DIT_FILE))
    with pytest.raises(ValueError, match=message) as err:
        load_dit(SMALL, torch.float32, "cpu", wan_dir=tmp_path)
    assert WAN_DIT_FILE in str(err.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=WAN_DIT_FILE):
        load_dit(SMALL, torch.float32, "cpu", wan_dir=tmp_path)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_loads_in_the_asked_dtype_only(tmp_path, dtype):
    save_file(official_sd(small_model()), str(tmp_path / WAN_DIT_FILE))
    m = load_dit(SMALL, dtype, "cpu", wan_dir=tmp_path)
    assert {p.dtype for p in m.parameters()} == {dtype}
    assert m.rope.frame_cos.dtype == torch.float32 and m.rope.frame_cos.device.type == "cpu"
