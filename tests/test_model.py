"""Shapes and analytic properties of the DiT, checked against hand computations and SPEC-wan sections 2-3."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from model.config import ModelConfig, model_preset
from model.kv_cache import CrossAttnCache, RingKVCache
from model.rope import Rope3D, apply_rope, axis_dims
from model.wan import CausalWanModel, timestep_sinusoid

from helpers import SMALL, prompt_embeds, small_model


def caches(model, batch, frame_tokens, sink=3, window=9):
    cfg = model.cfg
    ring = RingKVCache(cfg.num_layers, batch, sink, window, frame_tokens, cfg.num_heads, cfg.head_dim,
                       torch.float32, "cpu")
    cross = CrossAttnCache(cfg.num_layers, batch, cfg.text_len, cfg.num_heads, cfg.head_dim, torch.float32, "cpu")
    return ring, cross


# ------------------------------------------------------------------------------- forward, patches


@pytest.mark.parametrize("B,F,H,W", [(1, 3, 4, 6), (2, 3, 6, 4), (2, 1, 2, 2)])
def test_forward_shape(B, F, H, W):
    model = small_model()
    ring, cross = caches(model, B, (H // 2) * (W // 2))
    model.encode_prompt(torch.stack([prompt_embeds(i) for i in range(B)]), cross)
    x = torch.randn(B, F, 16, H, W, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(x, torch.full((B, F), 937.5), cross, ring, ring.plan_block(0, F))
    assert out.shape == (B, F, 16, H, W) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert ring.frames() == list(range(F))


def test_unpatchify_matches_spec_formula():
    """SPEC-wan 3.6: out[c, f, 2i+ph, 2j+pw] = y[f, i, j, (2 ph + pw) 16 + c]."""
    model = small_model()
    B, Fr, h, w = 2, 2, 2, 3
    y = torch.randn(B, Fr, h * w, 64, generator=torch.Generator().manual_seed(1))
    out = model.unpatchify(y, h, w)
    assert out.shape == (B, Fr, 16, 2 * h, 2 * w)
    want = torch.empty_like(out)
    for b in range(B):
        for f in range(Fr):
            for i in range(h):
                for j in range(w):
                    for ph in range(2):
                        for pw in range(2):
                            for c in range(16):
                                want[b, f, c, 2 * i + ph, 2 * j + pw] = y[b, f, i * w + j, (2 * ph + pw) * 16 + c]
    assert torch.equal(out, want)


def test_patchify_equals_conv3d():
    """The Conv3d with kernel = stride, run as a Linear, equals nn.functional.conv3d with the same weight."""
    model = small_model()
    x = torch.randn(2, 3, 16, 4, 6, generator=torch.Generator().manual_seed(2))
    tokens = model.patchify(x)
    assert tokens.shape == (2, 3 * 2 * 3, SMALL.dim)
    pe = model.patch_embedding
    assert pe.weight.shape == (SMALL.dim, 16, 1, 2, 2)
    conv = F.conv3d(x.permute(0, 2, 1, 3, 4), pe.weight, pe.bias, stride=(1, 2, 2))   # (B, dim, F, h, w)
    assert_close(tokens, conv.flatten(2).transpose(1, 2), atol=1e-5, rtol=1e-5)


def test_patchify_unpatchify_round_trip():
    """With the patch embedding set to the permutation (c, ph, pw) -> (ph, pw, c) and no bias,
    unpatchify(patchify(x)) == x: patchify's token order and unpatchify's are inverse."""
    model = CausalWanModel(SMALL).float()                      # dim 64 = 16 x 2 x 2
    perm = torch.zeros(64, 64)
    for c in range(16):
        for ph in range(2):
            for pw in range(2):
                perm[(2 * ph + pw) * 16 + c, c * 4 + ph * 2 + pw] = 1
    with torch.no_grad():
        model.patch_embedding.weight.copy_(perm.view(64, 16, 1, 2, 2))
        model.patch_embedding.bias.zero_()
    x = torch.randn(2, 3, 16, 4, 6, generator=torch.Generator().manual_seed(3))
    tokens = model.patchify(x)                                 # (B, F*h*w, 64)
    back = model.unpatchify(tokens.view(2, 3, 6, 64), 2, 3)
    assert torch.equal(back, x)


# --------------------------------------------------------------------------------------- RoPE


def test_rope_axis_dims():
    assert axis_dims(128) == (44, 42, 42)
    assert axis_dims(32) == (12, 10, 10)
    assert sum(axis_dims(96)) == 96


@pytest.mark.parametrize("head_dim", [32, 128])
def test_rope_position_zero_is_identity(head_dim):
    rope = Rope3D(head_dim, max_frames=16, max_hw=8)
    cos, sin = rope.tables(torch.tensor([0]), 1, 1)
    assert cos.shape == (1, 1, head_dim // 2)
    x = torch.randn(2, 1, 3, head_dim, generator=torch.Generator().manual_seed(0))
    assert torch.equal(apply_rope(x, cos, sin), x)


def test_rope_preserves_pair_norms():
    rope = Rope3D(128, max_frames=1024, max_hw=64)
    cos, sin = rope.tables(torch.tensor([5, 17, 1000]), 3, 4)
    assert cos.shape == sin.shape == (3 * 3 * 4, 1, 64)
    x = torch.randn(2, 36, 2, 128, generator=torch.Generator().manual_seed(1))
    y = apply_rope(x, cos, sin)
    assert_close(y.unflatten(-1, (64, 2)).norm(dim=-1), x.unflatten(-1, (64, 2)).norm(dim=-1),
                 atol=1e-5, rtol=1e-5)
    assert (y - x).abs().max() > 0.1


def test_rope_matches_spec_angles():
    """SPEC-wan 3: pair m turns by f w_m (m < 22), row i w_(m-22) (m < 43), column j w_(m-43); w over 44/42/42."""
    rope = Rope3D(128, max_frames=64, max_hw=8)
    frames, h, w = [7, 40], 3, 4
    cos, sin = rope.tables(torch.tensor(frames), h, w)
    x = torch.randn(1, len(frames) * h * w, 1, 128, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    y = apply_rope(x.float(), cos, sin).double()
    want = torch.empty_like(x)
    for n, (f, i, j) in enumerate((f, i, j) for f in frames for i in range(h) for j in range(w)):
        for m in range(64):
            if m < 22:
                ang = f * 10000.0 ** (-2 * m / 44)
            elif m < 43:
                ang = i * 10000.0 ** (-2 * (m - 22) / 42)
            else:
                ang = j * 10000.0 ** (-2 * (m - 43) / 42)
            z = complex(x[0, n, 0, 2 * m].item(), x[0, n, 0, 2 * m + 1].item()) * complex(math.cos(ang), math.sin(ang))
            want[0, n, 0, 2 * m], want[0, n, 0, 2 * m + 1] = z.real, z.imag
    assert_close(y, want, atol=2e-6, rtol=1e-5)


def test_rope_relative_frame_property():
    """<R(a) q, R(b) k> depends on a - b only (frame axis; row = column = 0)."""
    rope = Rope3D(128, max_frames=1024, max_hw=4)
    g = torch.Generator().manual_seed(3)
    q, k = torch.randn(1, 1, 1, 128, generator=g), torch.randn(1, 1, 1, 128, generator=g)

    def dot(a, b):
        ca, sa = rope.tables(torch.tensor([a]), 1, 1)
        cb, sb = rope.tables(torch.tensor([b]), 1, 1)
        return (apply_rope(q, ca, sa) * apply_rope(k, cb, sb)).sum()

    for a, b in [(7, 3), (3, 7), (0, 0)]:
        ref = dot(a, b)
        for shift in (1, 50, 900):
            assert_close(dot(a + shift, b + shift), ref, atol=1e-4, rtol=1e-5)
    assert (dot(7, 3) - dot(8, 3)).abs() > 1e-3                 # and it does depend on a - b
    assert_close(dot(0, 0), (q * k).sum(), atol=1e-5, rtol=1e-5)


def test_rope_frame_axis_only_turns_frame_pairs():
    rope = Rope3D(128, max_frames=64, max_hw=4)
    cos, sin = rope.tables(torch.tensor([9]), 1, 1)
    x = torch.randn(1, 1, 1, 128, generator=torch.Generator().manual_seed(4))
    y = apply_rope(x, cos, sin)
    assert torch.equal(y[..., 44:], x[..., 44:])
    assert not torch.equal(y[..., :44], x[..., :44])


# ------------------------------------------------------------------------------ block, timestep


def test_zero_gated_block_is_identity():
    """gate_sa = gate_ff = 0 and cross_attn.o = 0: the block returns its input, whatever shift and scale."""
    model = CausalWanModel(SMALL).float().eval().init_random(torch.Generator().manual_seed(5))
    block = model.blocks[0]
    B, Fr, ft = 2, 3, 6
    ring, cross = caches(model, B, ft)
    model.encode_prompt(torch.stack([prompt_embeds(i) for i in range(B)]), cross)
    g = torch.Generator().manual_seed(6)
    x = torch.randn(B, Fr * ft, SMALL.dim, generator=g)
    e0 = torch.randn(B, Fr, 6, SMALL.dim, generator=g)
    plan = ring.plan_block(0, Fr)
    cos, sin = model.rope.tables(plan.frame_pos, 2, 3)

    def fwd():
        with torch.no_grad():
            return block(x, e0, cos, sin, cross.k[0], cross.v[0], ring.k[0], ring.v[0], plan)

    assert (fwd() - x).abs().max() > 1e-3                        # random block: not the identity
    with torch.no_grad():
        e0[:, :, 2] = -block.modulation[0, 2]                    # gate_sa = modulation + e0 = 0
        e0[:, :, 5] = -block.modulation[0, 5]                    # gate_ff = 0
        block.cross_attn.o.weight.zero_()
        block.cross_attn.o.bias.zero_()
    assert torch.equal(fwd(), x)


def layer_norm(x, eps=1e-6):
    return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + eps)


def rms_norm(x, weight, eps=1e-6):
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def softmax_attention(q, k, v):
    """q [Lq, H, D], k and v [Lk, H, D]."""
    s = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(q.shape[-1])
    return torch.einsum("hqk,khd->qhd", s.softmax(-1), v)


def test_block_matches_spec_by_hand():
    """One block on a fresh cache (block 0: attends its own frames), written out from SPEC-wan 3.4."""
    model = small_model()
    block, cfg = model.blocks[1], SMALL
    B, Fr, ft, H, D = 2, 3, 6, cfg.num_heads, cfg.head_dim
    ring, cross = caches(model, B, ft)
    model.encode_prompt(torch.stack([prompt_embeds(i) for i in range(B)]), cross)
    g = torch.Generator().manual_seed(7)
    x = torch.randn(B, Fr * ft, cfg.dim, generator=g)
    e0 = 0.3 * torch.randn(B, Fr, 6, cfg.dim, generator=g)
    plan = ring.plan_block(0, Fr)
    cos, sin = model.rope.tables(plan.frame_pos, 2, 3)
    with torch.no_grad():
        got = block(x, e0, cos, sin, cross.k[1], cross.v[1], ring.k[1], ring.v[1], plan)
        ctx = model.embed_text(torch.stack([prompt_embeds(i) for i in range(B)]))
        for b in range(B):
            m = block.modulation[0] + e0[b]                                   # (F, 6, C)
            per_tok = m.repeat_interleave(ft, dim=0)                          # (L, 6, C): frame of each token
            shift_sa, scale_sa, gate_sa, shift_ff, scale_ff, gate_ff = per_tok.unbind(1)
            xb = x[b]
            h = layer_norm(xb) * (1 + scale_sa) + shift_sa
            sa = block.self_attn
            q = rms_norm(F.linear(h, sa.q.weight, sa.q.bias), sa.norm_q.weight).view(-1, H, D)
            k = rms_norm(F.linear(h, sa.k.weight, sa.k.bias), sa.norm_k.weight).view(-1, H, D)
            v = F.linear(h, sa.v.weight, sa.v.bias).view(-1, H, D)
            q, k = apply_rope(q[None], cos, sin)[0], apply_rope(k[None], cos, sin)[0]
            y = F.linear(softmax_attention(q, k, v).flatten(1), sa.o.weight, sa.o.bias)
            xb = xb + y * gate_sa
            ca = block.cross_attn
            hq = F.layer_norm(xb, (cfg.dim,), block.norm3.weight, block.norm3.bias, 1e-6)
            q = rms_norm(F.linear(hq, ca.q.weight, ca.q.bias), ca.norm_q.weight).view(-1, H, D)
            k = rms_norm(F.linear(ctx[b], ca.k.weight, ca.k.bias), ca.norm_k.weight).view(-1, H, D)
            v = F.linear(ctx[b], ca.v.weight, ca.v.bias).view(-1, H, D)
            xb = xb + F.linear(softmax_attention(q, k, v).flatten(1), ca.o.weight, ca.o.bias)
            hf = layer_norm(xb) * (1 + scale_ff) + shift_ff
            ffn = block.ffn
            y = F.linear(F.gelu(F.linear(hf, ffn[0].weight, ffn[0].bias), approximate="tanh"),
                         ffn[2].weight, ffn[2].bias)
            xb = xb + y * gate_ff
            assert_close(got[b], xb, atol=1e-5, rtol=1e-5)


def test_time_modulation_and_head_by_hand():
    """e = time_embedding(sinusoid(t)), e0 = Linear(SiLU(e)) as [6, C] per frame; the head uses e:
    index 0 shift, 1 scale (SPEC-wan 3.2 and 3.5)."""
    model = small_model()
    t = torch.tensor([[937.5, 937.5, 0.0], [1000.0, 625.0, 833.3333]])
    with torch.no_grad():
        e, e0 = model.time_modulation(t)
        te, tp = model.time_embedding, model.time_projection[1]
        sin = timestep_sinusoid(t.flatten(), 256).float()
        want_e = F.linear(F.silu(F.linear(sin, te[0].weight, te[0].bias)), te[2].weight, te[2].bias)
        want_e0 = F.linear(F.silu(want_e), tp.weight, tp.bias)
        assert_close(e, want_e.view(2, 3, SMALL.dim))
        assert_close(e0, want_e0.view(2, 3, 6, SMALL.dim))
        x = torch.randn(2, 3 * 6, SMALL.dim, generator=torch.Generator().manual_seed(8))
        got = model.head(x, e)
        assert got.shape == (2, 3, 6, 64)
        hm = model.head.modulation[0]                                          # (2, C)
        shift = (hm[0] + e).repeat_interleave(6, dim=1)
        scale = (hm[1] + e).repeat_interleave(6, dim=1)
        want = F.linear(layer_norm(x) * (1 + scale) + shift, model.head.head.weight, model.head.head.bias)
        assert_close(got, want.view(2, 3, 6, 64), atol=1e-5, rtol=1e-5)


def test_timestep_sinusoid_at_zero():
    s = timestep_sinusoid(torch.tensor([0.0]), 256)
    assert s.shape == (1, 256) and s.dtype == torch.float64
    assert torch.equal(s, torch.cat([torch.ones(1, 128), torch.zeros(1, 128)], dim=1).double())


def test_timestep_sinusoid_hand_formula():
    """[cos(t w_k) | sin(t w_k)], w_k = 10000^(-k/128), cos first, float64 (SPEC-wan 3.2)."""
    t = 937.5
    s = timestep_sinusoid(torch.tensor([t, 0.0], dtype=torch.float32), 256)
    want = torch.tensor([math.cos(t * 10000.0 ** (-k / 128)) for k in range(128)]
                        + [math.sin(t * 10000.0 ** (-k / 128)) for k in range(128)], dtype=torch.float64)
    assert_close(s[0], want, atol=1e-12, rtol=0)
    assert_close(s[0, [0, 128]], torch.tensor([math.cos(937.5), math.sin(937.5)], dtype=torch.float64),
                 atol=1e-14, rtol=0)
    assert_close(s[1], torch.cat([torch.ones(128), torch.zeros(128)]).double(), atol=0, rtol=0)


# ------------------------------------------------------------------------- parameters, presets


def test_wan_1_3b_state_dict():
    cfg = model_preset("wan_1_3b")
    with torch.device("meta"):
        model = CausalWanModel(cfg)
    sd = model.state_dict()
    assert len(sd) == 825 == 27 * 30 + 15                       # RoPE tables are not persistent
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - 1.419e9) / 1.419e9 < 0.005
    d, ffn, lin = 1536, 8960, lambda i, o: i * o + o            # noqa: E731
    per_block = 2 * (4 * lin(d, d) + 2 * d) + 2 * d + lin(d, ffn) + lin(ffn, d) + 6 * d
    hand = (16 * 4 * d + d) + lin(4096, d) + lin(d, d) + lin(256, d) + lin(d, d) + lin(d, 6 * d) \
        + 30 * per_block + lin(d, 64) + 2 * d
    assert n == hand == 1_418_996_800
    shapes = {
        "patch_embedding.weight": (1536, 16, 1, 2, 2),
        "patch_embedding.bias": (1536,),
        "text_embedding.0.weight": (1536, 4096),
        "text_embedding.2.weight": (1536, 1536),
        "time_embedding.0.weight": (1536, 256),
        "time_projection.1.weight": (9216, 1536),
        "time_projection.1.bias": (9216,),
        "blocks.0.modulation": (1, 6, 1536),
        "blocks.29.self_attn.norm_q.weight": (1536,),
        "blocks.29.norm3.weight": (1536,),
        "blocks.29.norm3.bias": (1536,),
        "blocks.0.cross_attn.k.weight": (1536, 1536),
        "blocks.0.ffn.0.weight": (8960, 1536),
        "blocks.0.ffn.2.weight": (1536, 8960),
        "head.modulation": (1, 2, 1536),
        "head.head.weight": (64, 1536),
        "head.head.bias": (64,),
    }
    for k, shape in shapes.items():
        assert tuple(sd[k].shape) == shape, k
    assert not any(k.startswith(("blocks.0.norm1", "blocks.0.norm2", "head.norm")) for k in sd)
    assert "blocks.30.modulation" not in sd


def test_tiny_preset_size():
    with torch.device("meta"):
        model = CausalWanModel(model_preset("tiny"))
    n = sum(p.numel() for p in model.parameters())
    assert 1e6 < n < 2e7
    assert model.cfg.head_dim == 128 and axis_dims(model.cfg.head_dim) == (44, 42, 42)


def test_config_validation():
    with pytest.raises(ValueError):
        ModelConfig(dim=100, num_heads=3)
    with pytest.raises(ValueError):
        model_preset("nope")
