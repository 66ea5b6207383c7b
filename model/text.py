"""Prompt encoders: text -> the [text_len, text_dim] rows the DiT cross-attends to.

The real encoder is UMT5-XXL (its own issue). Until it lands, and for the tiny preset always, a
`RandomPromptEncoder` stands in: a byte-level tokenizer (no files needed) and a random-weight
embedding, deterministic in (seed, text). Its output carries no meaning: the videos it conditions
are random-weight videos, only their shapes, timings and numerics are real. Like the real encoder,
rows past the prompt's length are exactly zero (SPEC-wan section 6).
"""
from typing import Protocol, Sequence

import torch


class PromptEncoder(Protocol):
    text_len: int
    text_dim: int

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """[N, text_len, text_dim] float32 rows, one per text."""


class ByteTokenizer:
    """UTF-8 bytes + 3 (0 pad, 1 end, 2 unknown), an end token, truncated to `text_len`."""
    vocab_size = 259

    def __init__(self, text_len: int):
        self.text_len = text_len

    def __call__(self, text: str) -> list:
        ids = [b + 3 for b in " ".join(text.split()).encode("utf-8")][: self.text_len - 1]
        return ids + [1]


class RandomPromptEncoder:
    def __init__(self, text_len: int, text_dim: int, seed: int = 0):
        self.text_len, self.text_dim = text_len, text_dim
        self.tokenizer = ByteTokenizer(text_len)
        g = torch.Generator().manual_seed(seed)
        self.token_embedding = torch.randn(ByteTokenizer.vocab_size, text_dim, generator=g)
        self.position_embedding = 0.1 * torch.randn(text_len, text_dim, generator=g)

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        out = torch.zeros(len(texts), self.text_len, self.text_dim)
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"prompt {i} is empty; give every prompt some text")
            ids = torch.tensor(self.tokenizer(text))
            n = ids.numel()
            out[i, :n] = self.token_embedding[ids] + self.position_embedding[:n]
        return out
