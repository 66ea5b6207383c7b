"""UMT5 prompt encoder: Wan <-> transformers key map, semantics against a literal Wan T5, strict loading."""
import functools
import math
from dataclasses import replace

import pytest
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerFast, UMT5EncoderModel

from model.umt5 import (UMT5_TINY, UMT5_XXL, UMT5PromptEncoder, clean_prompt, hf_to_wan_t5,
                        wan_t5_to_hf)

TINY = replace(UMT5_TINY, num_layers=3)          # 3 layers: a block-index mix-up cannot hide
WORDS = "a cat dog runs on the beach at sunset red blue".split()
PROMPTS = ["a red cat runs on the beach", "blue dog at sunset", " ".join(WORDS * 60)]  # last: truncated


def wan_keys(num_layers: int, s=UMT5_XXL) -> dict:
    """SPEC-wan section 6, written out: Wan's T5-encoder keys and shapes."""
    inner = s.num_heads * s.head_dim
    keys = {"token_embedding.weight": (s.vocab_size, s.dim), "norm.weight": (s.dim,)}
    for i in range(num_layers):
        keys.update({f"blocks.{i}.norm1.weight": (s.dim,), f"blocks.{i}.norm2.weight": (s.dim,),
                     f"blocks.{i}.ffn.gate.0.weight": (s.ffn_dim, s.dim),
                     f"blocks.{i}.ffn.fc1.weight": (s.ffn_dim, s.dim),
                     f"blocks.{i}.ffn.fc2.weight": (s.dim, s.ffn_dim),
                     f"blocks.{i}.pos_embedding.embedding.weight": (s.num_buckets, s.num_heads)})
        for n in "qkv":
            keys[f"blocks.{i}.attn.{n}.weight"] = (inner, s.dim)
        keys[f"blocks.{i}.attn.o.weight"] = (s.dim, inner)
    return keys


def random_hf(size=TINY, seed=0) -> UMT5EncoderModel:
    """Every parameter random, norms and position biases included, so no swap of two can pass."""
    model = UMT5EncoderModel(size.hf_config()).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 if p.ndim == 2 else 0.2) + (p.ndim == 1))
    return model


@functools.lru_cache(maxsize=None)
def bucket(rel: int) -> int:
    """rel = key - query; 16 buckets per side, exact below 8, log-spaced to 15 (max distance 128)."""
    a = abs(rel)
    b = a if a < 8 else min(15, 8 + math.floor(math.log(a / 8) / math.log(128 / 8) * 8))
    return b + (16 if rel > 0 else 0)


def wan_t5_reference(sd: dict, ids: torch.Tensor, mask: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Wan's T5 encoder forward, literally from SPEC-wan section 6, then the padding rows zeroed."""
    def rms(x, w):
        y = x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6)
        return w * (y.type_as(w) if w.dtype in (torch.float16, torch.bfloat16) else y)

    def gelu(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

    n_layers = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    B, L = ids.shape
    buckets = torch.tensor([[bucket(j - i) for j in range(L)] for i in range(L)])       # (Lq, Lk)
    x = sd["token_embedding.weight"][ids]                                                # (B, L, C)
    for i in range(n_layers):
        w = {k[len(f"blocks.{i}."):]: v for k, v in sd.items() if k.startswith(f"blocks.{i}.")}
        h = rms(x, w["norm1.weight"])
        q, k, v = (h @ w[f"attn.{n}.weight"].T for n in "qkv")
        q, k, v = (t.view(B, L, num_heads, -1) for t in (q, k, v))                      # (B, L, n, c)
        bias = x.new_zeros(B, num_heads, L, L) + w["pos_embedding.embedding.weight"][buckets].permute(2, 0, 1)
        bias.masked_fill_(mask.view(B, 1, 1, L) == 0, torch.finfo(x.dtype).min)
        attn = torch.einsum("binc,bjnc->bnij", q, k) + bias                               # no 1/sqrt(c)
        attn = torch.softmax(attn.float(), dim=-1).type_as(attn)
        x = x + torch.einsum("bnij,bjnc->binc", attn, v).reshape(B, L, -1) @ w["attn.o.weight"].T
        h = rms(x, w["norm2.weight"])
        x = x + ((h @ w["ffn.fc1.weight"].T) * gelu(h @ w["ffn.gate.0.weight"].T)) @ w["ffn.fc2.weight"].T
    x = rms(x, sd["norm.weight"]).float()
    for row, valid in zip(x, mask.sum(1).tolist()):
        row[valid:] = 0.0
    return x


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    """A T5-like local tokenizer folder: pad 0, </s> 1 appended, unk 2, a dozen words."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    folder = tmp_path_factory.mktemp("umt5_tokenizer")
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                            unk_token="<unk>").save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def wan_file(tmp_path_factory):
    sd = hf_to_wan_t5(random_hf().state_dict())
    path = tmp_path_factory.mktemp("umt5_ckpt") / "models_t5_tiny.pth"
    torch.save(sd, path)
    return path, sd


def test_xxl_key_map_matches_spec():
    with torch.device("meta"):
        model = UMT5EncoderModel(UMT5_XXL.hf_config())
    wan = hf_to_wan_t5(model.state_dict())
    assert {k: tuple(v.shape) for k, v in wan.items()} == wan_keys(24)
    assert len(wan) == 242
    assert model.config.dense_act_fn == "gelu_new" and model.config.is_gated_act


def test_hf_wan_round_trip_is_exact():
    model = random_hf()
    wan = hf_to_wan_t5(model.state_dict())
    assert {k: tuple(v.shape) for k, v in wan.items()} == wan_keys(TINY.num_layers, TINY)
    assert len(wan) == 2 + 10 * TINY.num_layers
    fresh = UMT5EncoderModel(TINY.hf_config()).eval()
    fresh.load_state_dict(wan_t5_to_hf(wan), strict=True)
    ids = torch.randint(3, TINY.vocab_size, (2, 40), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, 25:] = 0
    with torch.no_grad():
        want = model(input_ids=ids, attention_mask=mask).last_hidden_state
        got = fresh(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.equal(got, want)


def test_hf_to_wan_rejects_untied_embeddings():
    sd = dict(random_hf().state_dict())
    sd["encoder.embed_tokens.weight"] = sd["encoder.embed_tokens.weight"] + 1
    with pytest.raises(ValueError, match="embed_tokens"):
        hf_to_wan_t5(sd)


def test_encode_matches_literal_wan_t5_fp32(wan_file, tokenizer_dir):
    path, sd = wan_file
    enc = UMT5PromptEncoder.from_wan_checkpoint(path, tokenizer_dir, dtype=torch.float32, device="cpu",
                                                size=TINY)
    assert enc.model.config._attn_implementation == "eager"
    assert enc.model.encoder.embed_tokens.weight is enc.model.shared.weight
    ids, mask = enc.tokenize(PROMPTS)
    assert ids.shape == (3, 512) and mask.sum(1).tolist() == [8, 5, 512]
    assert ids[0, :8].tolist() == [3, 12, 4, 6, 7, 8, 9, 1] and ids[2, -1] == 1     # </s> kept on truncation
    got = enc.encode(PROMPTS)
    want = wan_t5_reference(sd, ids, mask, TINY.num_heads)
    assert got.dtype == torch.float32 and got.shape == (3, 512, TINY.dim)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert torch.equal(got[0, 8:], torch.zeros(504, TINY.dim)) and got[0, :8].abs().sum(-1).min() > 0


def test_encode_bf16_runs_in_bf16_close_to_wan_bf16(wan_file, tokenizer_dir):
    path, sd = wan_file
    sd16 = {k: v.bfloat16() for k, v in sd.items()}
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    enc = UMT5PromptEncoder.from_wan_state_dict(sd16, tokenizer, TINY, dtype=torch.bfloat16, device="cpu")
    assert {p.dtype for p in enc.model.parameters()} == {torch.bfloat16}
    assert enc.model.shared.weight.data_ptr() == sd16["token_embedding.weight"].data_ptr()   # no copy
    ids, mask = enc.tokenize(PROMPTS[:2])
    got = enc.encode(PROMPTS[:2])
    want = wan_t5_reference(sd16, ids, mask, TINY.num_heads)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=2e-2, atol=2e-2)
    assert torch.equal(got == 0, want == 0)


def test_tiny_random_matches_literal_wan_t5():
    enc = UMT5PromptEncoder.tiny_random(48, seed=3)
    text = "a long prompt, " * 30                  # 450 bytes: relative distances far past 128
    ids, mask = enc.tokenize([text, "short"])
    got = enc.encode([text, "short"])
    want = wan_t5_reference(hf_to_wan_t5(enc.model.state_dict()), ids, mask, UMT5_TINY.num_heads)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("edit, message", [
    (lambda sd: sd.pop("blocks.1.ffn.gate.0.weight"), r"1 missing: blocks\.1\.ffn\.gate\.0\.weight"),
    (lambda sd: sd.update({"blocks.0.extra.weight": torch.zeros(1)}), r"1 unexpected: blocks\.0\.extra"),
    (lambda sd: sd.update({"norm.weight": torch.zeros(3)}), r"1 wrong shape: norm\.weight \(3,\)"),
])
def test_bad_checkpoint_names_keys_and_file(wan_file, tokenizer_dir, tmp_path, edit, message):
    sd = dict(wan_file[1])
    edit(sd)
    path = tmp_path / "bad_t5.pth"
    torch.save(sd, path)
    with pytest.raises(ValueError, match=message) as err:
        UMT5PromptEncoder.from_wan_checkpoint(path, tokenizer_dir, dtype=torch.float32, device="cpu",
                                              size=TINY)
    assert str(path) in str(err.value)


def test_tiny_random_protocol():
    enc = UMT5PromptEncoder.tiny_random(32, seed=0)
    assert (enc.text_len, enc.text_dim) == (512, 32)
    out = enc.encode(["a cat", "a dog on the beach"])
    assert out.shape == (2, 512, 32) and out.dtype == torch.float32
    for row, valid in zip(out, (6, 19)):       # bytes + </s>
        assert torch.equal(row[valid:], torch.zeros(512 - valid, 32))
        assert row[:valid].abs().sum(-1).min() > 0
    assert torch.equal(out, UMT5PromptEncoder.tiny_random(32, seed=0).encode(["a cat", "a dog on the beach"]))
    assert not torch.allclose(out[0, :6], out[1, :6])
    assert not torch.allclose(out, UMT5PromptEncoder.tiny_random(32, seed=1).encode(["a cat", "a dog on the beach"]))
    torch.testing.assert_close(enc.encode(["a cat"])[0], out[0], rtol=1e-5, atol=1e-6)  # batch-independent


@pytest.mark.parametrize("bad", ["", "   \n", "&nbsp;", None])
def test_empty_prompt_is_rejected(bad):
    with pytest.raises(ValueError, match="prompt 1 is empty"):
        UMT5PromptEncoder.tiny_random(32).encode(["a cat", bad])


def test_clean_prompt():
    assert clean_prompt("  a &amp;amp; b\n\t\u201cq\u201d \u2019s  ") == 'a & b "q" \'s'
