"""3-D rotary position embedding of Wan2.1 (frame, row, column), without float64 at run time.

A head vector of size d is read as d/2 complex numbers from adjacent pairs (x[2m] real, x[2m+1]
imaginary). The first d/2 - 2 (d // 6) pairs rotate with the frame index, the next d // 6 with the
row, the last d // 6 with the column; axis j of an n-dim part turns at theta^(-2j/n).
The tables are computed once in float64 on the host and stored as float32 cos/sin; at run time the
frame rows are gathered with a device tensor, so a changing frame offset is neither a new shape nor a
host sync.
"""
import torch
from torch import nn


def axis_dims(head_dim: int) -> tuple:
    """Real dims per axis (frame, height, width): 44/42/42 for head_dim 128."""
    c = head_dim // 6
    return head_dim - 4 * c, 2 * c, 2 * c


def axis_freqs(dim: int, theta: float = 10000.0) -> torch.Tensor:
    """[dim // 2] float64 frequencies theta^(-2j/dim) of an axis of `dim` real dims."""
    return 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)


def angle_table(max_pos: int, dim: int, theta: float = 10000.0) -> torch.Tensor:
    """[max_pos, dim // 2] float64 angles pos * theta^(-2j/dim)."""
    return torch.outer(torch.arange(max_pos, dtype=torch.float64), axis_freqs(dim, theta))


class Rope3D(nn.Module):
    """Holds the cos/sin tables; `tables()` builds the per-token rotation of one call."""

    def __init__(self, head_dim: int, max_frames: int = 1024, max_hw: int = 1024):
        super().__init__()
        df, dh, dw = axis_dims(head_dim)
        self.max_frames = max_frames
        for name, n, dim in (("frame", max_frames, df), ("height", max_hw, dh), ("width", max_hw, dw)):
            ang = angle_table(n, dim)
            self.register_buffer(f"{name}_cos", ang.cos().float(), persistent=False)
            self.register_buffer(f"{name}_sin", ang.sin().float(), persistent=False)

    def tables(self, frame_pos: torch.Tensor, h: int, w: int) -> tuple:
        """cos, sin of shape [F*h*w, 1, head_dim/2] for the frames at positions `frame_pos` ([F] int64, device)."""
        f = frame_pos.shape[0]

        def grid(cos_f, cos_h, cos_w):
            return torch.cat([
                cos_f[:, None, None, :].expand(f, h, w, -1),
                cos_h[None, :h, None, :].expand(f, h, w, -1),
                cos_w[None, None, :w, :].expand(f, h, w, -1),
            ], dim=-1).reshape(f * h * w, 1, -1)

        cos = grid(self.frame_cos.index_select(0, frame_pos), self.height_cos, self.width_cos)
        sin = grid(self.frame_sin.index_select(0, frame_pos), self.height_sin, self.width_sin)
        return cos, sin

    def frame_shift(self, delta: int, device=None) -> tuple:
        """cos, sin [head_dim/2] of a rotation by -delta frames on the frame pairs (identity elsewhere):
        applied to cached keys it moves them delta frames back, as if RoPE had been applied at pos - delta."""
        n_frame = self.frame_cos.shape[1]
        half = n_frame + self.height_cos.shape[1] + self.width_cos.shape[1]
        ang = torch.zeros(half, dtype=torch.float64)
        ang[:n_frame] = -float(delta) * axis_freqs(2 * n_frame)
        return ang.cos().float().to(device), ang.sin().float().to(device)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved pairs of x [B, L, H, D] in float32; returns x's dtype."""
    xf = x.float().unflatten(-1, (-1, 2))                          # (B, L, H, D/2, 2)
    re, im = xf[..., 0], xf[..., 1]
    out = torch.stack([re * cos - im * sin, re * sin + im * cos], dim=-1)
    return out.flatten(-2).to(x.dtype)
