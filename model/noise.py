"""Noise sources of the pipeline: where the Gaussian draws come from.

The pipeline asks for noise twice per denoising step structure: the block's starting noise
(`initial`) and the re-noising draw after every step but the last (`renoise`). A source returns
[B, F, C, H, W] tensors. `SeededNoise` draws from one `torch.Generator` per sample, so sample i of
a batch gets the same noise as a batch-1 run seeded with seeds[i] (LongLive draws batch-wide, so
its samples change with the batch size; SPEC-wan section 10). `ReplayNoise` plays back recorded
draws in order, e.g. those of the LongLive oracle.
"""
from typing import Protocol, Sequence

import torch


class NoiseSource(Protocol):
    def initial(self, first_frame: int, num_frames: int) -> torch.Tensor: ...

    def renoise(self, first_frame: int, num_frames: int) -> torch.Tensor: ...


class SeededNoise:
    def __init__(self, seeds: Sequence[int], frame_shape: Sequence[int], dtype, device):
        self.frame_shape = tuple(frame_shape)
        self.dtype, self.device = dtype, torch.device(device)
        gen_device = self.device if self.device.type == "cuda" else "cpu"
        self.generators = [torch.Generator(gen_device).manual_seed(int(s)) for s in seeds]

    def _draw(self, num_frames: int) -> torch.Tensor:
        return torch.stack([
            torch.randn((num_frames, *self.frame_shape), generator=g, dtype=self.dtype, device=g.device)
            for g in self.generators]).to(self.device)

    def initial(self, first_frame: int, num_frames: int) -> torch.Tensor:
        return self._draw(num_frames)

    def renoise(self, first_frame: int, num_frames: int) -> torch.Tensor:
        return self._draw(num_frames)


class ReplayNoise:
    """`initial_noise` [B, T, C, H, W] holds every frame's starting noise; `draws` are the re-noising
    tensors in call order, each [B * F, C, H, W] with rows in (sample, frame) order."""

    def __init__(self, initial_noise: torch.Tensor, draws: Sequence[torch.Tensor]):
        self.initial_noise, self.draws, self.next = initial_noise, list(draws), 0

    def initial(self, first_frame: int, num_frames: int) -> torch.Tensor:
        return self.initial_noise[:, first_frame:first_frame + num_frames]

    def renoise(self, first_frame: int, num_frames: int) -> torch.Tensor:
        if self.next >= len(self.draws):
            raise RuntimeError(f"ReplayNoise: all {len(self.draws)} recorded draws are used up")
        d = self.draws[self.next]
        self.next += 1
        return d.view(-1, num_frames, *d.shape[1:])
