"""UMT5-XXL prompt encoder (SPEC-wan section 6) on top of transformers' `UMT5EncoderModel`.

Wan ships the encoder as `models_t5_umt5-xxl-enc-bf16.pth` in its own key layout; `wan_t5_to_hf` and
`hf_to_wan_t5` rename between that layout and transformers' (same tensors, no transposes). The
encoder runs with eager attention: its op order (bf16 scores + bias, softmax, one bf16 rounding of
the probabilities) is the one Wan's T5 has; SDPA would round differently.

`UMT5PromptEncoder` implements model/text.py's `PromptEncoder`: 512 rows per prompt, rows past the
prompt's tokens (its `</s>` included) exactly zero, as the DiT saw them in training.
"""
import html
import re
from dataclasses import dataclass, replace
from typing import Sequence

import torch
from transformers import AutoTokenizer, UMT5Config, UMT5EncoderModel

from .checkpoint import check_keys, read_state_dict
from .text import ByteTokenizer


@dataclass(frozen=True)
class T5Size:
    vocab_size: int
    dim: int                      # d_model: the width of the rows the DiT cross-attends to
    ffn_dim: int
    num_heads: int
    head_dim: int                 # d_kv; num_heads * head_dim need not equal dim
    num_layers: int
    num_buckets: int = 32         # relative-position buckets, 16 per direction
    max_distance: int = 128
    eps: float = 1e-6

    def hf_config(self) -> UMT5Config:
        return UMT5Config(
            vocab_size=self.vocab_size, d_model=self.dim, d_kv=self.head_dim, d_ff=self.ffn_dim,
            num_layers=self.num_layers, num_heads=self.num_heads,
            relative_attention_num_buckets=self.num_buckets,
            relative_attention_max_distance=self.max_distance, layer_norm_epsilon=self.eps,
            feed_forward_proj="gated-gelu", dropout_rate=0.0, use_cache=False,
            pad_token_id=0, eos_token_id=1, attn_implementation="eager")


UMT5_XXL = T5Size(vocab_size=256384, dim=4096, ffn_dim=10240, num_heads=64, head_dim=64, num_layers=24)
UMT5_TINY = T5Size(vocab_size=ByteTokenizer.vocab_size, dim=64, ffn_dim=128, num_heads=2, head_dim=32,
                   num_layers=2)

# Per block N: Wan name <-> transformers name (prefix `encoder.block.N.`). UMT5 has a relative
# position bias in every layer (Wan: shared_pos=False). Wan's FFN is fc2(fc1(x) * gelu(gate(x))),
# transformers' is wo(gelu(wi_0(x)) * wi_1(x)): the GELU branch gate.0 is wi_0, the linear fc1 is wi_1.
_BLOCK_KEYS = (
    ("norm1.weight", "layer.0.layer_norm.weight"),
    ("attn.q.weight", "layer.0.SelfAttention.q.weight"),
    ("attn.k.weight", "layer.0.SelfAttention.k.weight"),
    ("attn.v.weight", "layer.0.SelfAttention.v.weight"),
    ("attn.o.weight", "layer.0.SelfAttention.o.weight"),
    ("pos_embedding.embedding.weight", "layer.0.SelfAttention.relative_attention_bias.weight"),
    ("norm2.weight", "layer.1.layer_norm.weight"),
    ("ffn.gate.0.weight", "layer.1.DenseReluDense.wi_0.weight"),
    ("ffn.fc1.weight", "layer.1.DenseReluDense.wi_1.weight"),
    ("ffn.fc2.weight", "layer.1.DenseReluDense.wo.weight"),
)
_TOP_KEYS = (("token_embedding.weight", "shared.weight"), ("norm.weight", "encoder.final_layer_norm.weight"))
_TIED = "encoder.embed_tokens.weight"   # transformers ties it to shared.weight; Wan stores the table once


def _rename(sd: dict, table: dict, block_re: str, block_fmt: str, block_table: dict) -> dict:
    out = {}
    for key, value in sd.items():
        m = re.fullmatch(block_re, key)
        if key in table:
            out[table[key]] = value
        elif m and m.group(2) in block_table:
            out[block_fmt.format(m.group(1), block_table[m.group(2)])] = value
        else:
            raise KeyError(f"no UMT5 key map for {key!r}")
    return out


def wan_t5_to_hf(sd: dict) -> dict:
    """Wan T5-encoder state dict -> `UMT5EncoderModel` keys (the embedding under both tied names)."""
    out = _rename(sd, dict(_TOP_KEYS), r"blocks\.(\d+)\.(.+)", "encoder.block.{}.{}", dict(_BLOCK_KEYS))
    if "shared.weight" in out:
        out[_TIED] = out["shared.weight"]
    return out


def hf_to_wan_t5(sd: dict) -> dict:
    """`UMT5EncoderModel` state dict -> Wan's layout (242 keys for UMT5-XXL: 2 + 10 per layer)."""
    sd = dict(sd)
    tied = sd.pop(_TIED, None)
    if tied is not None:
        shared = sd.setdefault("shared.weight", tied)
        if shared.shape != tied.shape or (not tied.is_meta and not torch.equal(shared, tied)):
            raise ValueError(f"{_TIED} differs from shared.weight; Wan's layout holds one embedding table")
    return _rename(sd, {h: w for w, h in _TOP_KEYS}, r"encoder\.block\.(\d+)\.(.+)", "blocks.{}.{}",
                   {h: w for w, h in _BLOCK_KEYS})


_SINGLE_QUOTES = re.compile("[\u02bc\u2018-\u201b]")
_DOUBLE_QUOTES = re.compile("[\u201c-\u201f]")


def clean_prompt(text: str) -> str:
    """Wan's 'whitespace' clean without ftfy: html.unescape twice, straight quotes, one space, strip.

    ftfy.fix_text also repairs mojibake, drops control characters and terminal escapes, and
    normalises to NFC; we do none of that (the UMT5 tokenizer's own NFKC normaliser covers width
    and ligature forms). Curly quotes are straightened here as ftfy would.
    """
    text = html.unescape(html.unescape(text))
    text = _DOUBLE_QUOTES.sub('"', _SINGLE_QUOTES.sub("'", text))
    return re.sub(r"\s+", " ", text).strip()


def _init_random(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Random weights of a sane scale (norms 1 +- 0.1), in parameter order, from `generator` only."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=generator)
            if name.endswith("layer_norm.weight"):
                r = 1 + 0.1 * r
            elif p.ndim == 2 and "relative_attention_bias" not in name and name != "shared.weight":
                r = r * p.shape[1] ** -0.5
            p.copy_(r)


class UMT5PromptEncoder:
    """PromptEncoder over a `UMT5EncoderModel` and a tokenizer (HF, or model/text.py's ByteTokenizer)."""

    def __init__(self, model: UMT5EncoderModel, tokenizer, text_len: int = 512):
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.text_len = text_len
        self.text_dim = model.config.d_model

    @property
    def device(self) -> torch.device:
        return self.model.shared.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.shared.weight.dtype

    @classmethod
    def from_wan_state_dict(cls, sd: dict, tokenizer, size: T5Size = UMT5_XXL, dtype=torch.bfloat16,
                            device=None, text_len: int = 512, source: str = "<state dict>"):
        """Encoder from a Wan-layout state dict (strict keys and shapes), weights in `dtype` on `device`."""
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        with torch.device("meta"):
            model = UMT5EncoderModel(size.hf_config())
        expected = hf_to_wan_t5(model.state_dict())
        check_keys({k: v.shape for k, v in expected.items()}, sd, source)
        hf = wan_t5_to_hf({k: v.to(device=device, dtype=dtype) for k, v in sd.items()})
        model.load_state_dict(hf, strict=True, assign=True)
        model.set_input_embeddings(model.shared)     # assign=True made two parameters; tie them again
        return cls(model, tokenizer, text_len)

    @classmethod
    def from_wan_checkpoint(cls, t5_path, tokenizer_dir, dtype=torch.bfloat16, device=None,
                            size: T5Size = UMT5_XXL, text_len: int = 512):
        """Wan2.1's `models_t5_umt5-xxl-enc-bf16.pth` + its local `google/umt5-xxl/` tokenizer folder.

        The checkpoint is bf16; it is cast only if another `dtype` is asked. The tokenizer is read
        from `tokenizer_dir` alone, never from the hub.
        """
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
        return cls.from_wan_state_dict(read_state_dict(t5_path), tokenizer, size, dtype, device,
                                       text_len, source=str(t5_path))

    @classmethod
    def tiny_random(cls, text_dim: int, seed: int = 0, text_len: int = 512, dtype=torch.float32,
                    device="cpu"):
        """Random-weight UMT5 (UMT5_TINY but d_model = text_dim) with the ByteTokenizer: needs no files."""
        model = UMT5EncoderModel(replace(UMT5_TINY, dim=text_dim).hf_config())
        _init_random(model, torch.Generator().manual_seed(seed))
        return cls(model.to(device=device, dtype=dtype), ByteTokenizer(text_len), text_len)

    def tokenize(self, texts: Sequence[str]) -> tuple:
        """Cleaned texts -> (ids, mask), each [N, text_len] int64, right-padded with 0, `</s>` (1) kept."""
        cleaned = []
        for i, text in enumerate(texts):
            text = clean_prompt(text) if isinstance(text, str) else ""
            if not text:
                raise ValueError(f"prompt {i} is empty; give every prompt some text")
            cleaned.append(text)
        if isinstance(self.tokenizer, ByteTokenizer):
            ids = torch.zeros(len(cleaned), self.text_len, dtype=torch.long)
            for i, text in enumerate(cleaned):
                row = self.tokenizer(text)[: self.text_len]
                ids[i, : len(row)] = torch.tensor(row)
            return ids, (ids != 0).long()
        batch = self.tokenizer(cleaned, padding="max_length", truncation=True, max_length=self.text_len,
                               add_special_tokens=True, padding_side="right", return_tensors="pt")
        return batch.input_ids, batch.attention_mask

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """[N, text_len, text_dim] float32 on the encoder's device; rows past each prompt are 0."""
        ids, mask = self.tokenize(texts)
        ids, mask = ids.to(self.device), mask.to(self.device)
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state   # (N, L, dim)
        return hidden.float().masked_fill(mask[..., None] == 0, 0.0)
