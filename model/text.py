"""Prompt encoders: text -> the [text_len, text_dim] rows the DiT cross-attends to.

The encoder is UMT5 (umt5.py): UMT5-XXL from Wan's checkpoint with its tokenizer folder, or, with no
checkpoint, a random-weight UMT5 of the same architecture with the `ByteTokenizer` below (needs no
files). Rows past the prompt's length are exactly zero (SPEC-wan section 6).
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
