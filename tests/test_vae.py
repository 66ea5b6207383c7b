"""The Wan2.1 VAE decoder: streaming equals whole-video decode, the static zero cache equals Wan's list cache
('Rep' included), the wan2_1 preset has the official keys, and both checkpoint layouts load exactly."""
import functools

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.testing import assert_close

from model.vae import (VAE_PRESETS, AttentionBlock, CausalConv3d, SideStreamDecoder, Upsample, WanVAEDecoder,
                       attention_by_gemms, load_vae_weights, subpixel_weights, vae_state_dict_from_diffusers)

TINY = VAE_PRESETS["tiny"]
HW = (4, 6)                         # latent h, w -> 32 x 48 pixels


@functools.lru_cache(maxsize=None)
def tiny(seed: int = 0) -> WanVAEDecoder:
    """FP32 random tiny decoder, shared (decoding does not change the module)."""
    return WanVAEDecoder(TINY).init_random(torch.Generator().manual_seed(seed)).eval()


def latents(frames, batch=1, hw=HW, seed=0):
    return torch.randn(batch, frames, TINY.z_dim, *hw, generator=torch.Generator().manual_seed(seed))


def stream(decoder, z, blocks):
    """Decode z block by block (sizes `blocks`) through one stream; also return each block's frame count."""
    state = decoder.new_stream(z.shape[0], z.shape[-2:])
    outs, start = [], 0
    for n in blocks:
        outs.append(decoder.decode_block(z[:, start:start + n], state))
        start += n
    return torch.cat(outs, dim=1), [o.shape[1] for o in outs]


# ---- (a, b) streaming == whole-video decode; frame counts and sizes ---------------------------------------

@pytest.mark.parametrize("blocks", [[3, 3, 3], [1, 3, 3, 3], [2, 1, 4, 1], [1, 1, 1], [5]])
def test_streaming_equals_decode(blocks):
    dec, z = tiny(), latents(sum(blocks))
    reference = dec.decode(z)
    video, counts = stream(dec, z, blocks)
    assert counts == [1 + 4 * (blocks[0] - 1)] + [4 * n for n in blocks[1:]]     # 3 -> 9, then 12 per block
    assert_close(video, reference, atol=1e-5, rtol=1e-5)
    inside = (video.abs() < 1).float().mean()
    assert inside > 0.8, f"only {inside:.0%} of pixels unclamped: the comparison would mean little"


@pytest.mark.parametrize("frames,batch,hw", [(1, 1, (4, 6)), (4, 2, (3, 5)), (7, 1, (2, 2))])
def test_output_shape_range_dtype(frames, batch, hw):
    video = tiny().decode(latents(frames, batch, hw))
    assert video.shape == (batch, 1 + 4 * (frames - 1), 3, 8 * hw[0], 8 * hw[1])
    assert video.dtype == torch.float32
    assert video.abs().max() <= 1 and video.std() > 0.1


def test_batch_equals_per_sample():
    """Wan decodes sample by sample; a batch gives each sample the same video."""
    dec, z = tiny(), latents(4, batch=3, seed=1)
    together = dec.decode(z)
    for i in range(3):
        assert_close(together[i:i + 1], dec.decode(z[i:i + 1]), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(together[0], together[1])


def test_per_frame_blocks_are_decode_exactly():
    dec, z = tiny(), latents(7, seed=9)
    state = dec.new_stream(1, HW)
    video = torch.cat([dec.decode_block(z[:, a:b], state, per_frame=True) for a, b in ((0, 3), (3, 7))], dim=1)
    assert torch.equal(video, dec.decode(z))


def test_channels_last_decodes_the_same_video():
    dec, z = tiny(), latents(7, seed=4)
    fast = WanVAEDecoder(TINY).eval()
    fast.load_state_dict(dec.state_dict())
    fast.to_channels_last()
    assert fast.decoder.conv1.weight.is_contiguous(memory_format=torch.channels_last_3d)
    state = fast.new_stream(1, HW)
    assert all(b.is_contiguous(memory_format=torch.channels_last_3d) for b in state.caches.values())
    assert_close(stream(fast, z, [1, 3, 3])[0], dec.decode(z), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("channels_last", [False, True])
def test_padding_inside_the_convolution_decodes_the_same_video(channels_last):
    """pad_space_in_conv: the convs zero-pad height and width themselves instead of reading a padded copy;
    streamed (uneven blocks and per frame) and in one pass without caches, the same video as Wan's layout."""
    dec, z = tiny(), latents(7, seed=6)
    fast = WanVAEDecoder(TINY).eval()
    fast.load_state_dict(dec.state_dict())
    if channels_last:
        fast.to_channels_last()
    fast.pad_space_in_conv()
    conv = fast.decoder.conv1
    assert conv.pad_in_conv and conv.padding == (0, 1, 1)
    assert fast.conv2.padding == (0, 0, 0)                      # 1x1x1: nothing to pad
    ref = dec.decode(z)
    assert_close(stream(fast, z, [1, 3, 3])[0], ref, atol=1e-5, rtol=1e-5)
    state = fast.new_stream(1, HW)
    assert_close(torch.cat([fast.decode_block(z[:, a:b], state, per_frame=True) for a, b in ((0, 2), (2, 7))], dim=1),
                 ref, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        assert_close(fast(z), ref, atol=1e-5, rtol=1e-5)
    fast.pad_space_in_conv(False)
    assert not conv.pad_in_conv and conv.padding == (0, 0, 0)
    assert_close(stream(fast, z, [7])[0], ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("temporal", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])
def test_subpixel_upsample_is_nearest_upsample_then_conv(temporal, channels_last):
    """Upsample.subpixel: one 2x2 conv of the low-resolution input gives the 4 output phases of
    conv3x3(nearest2x(x)), odd sizes and the zero border included, in the input's layout (float64: exact)."""
    torch.manual_seed(3)
    up = Upsample(6, temporal, 1).double()
    x = torch.randn(2, 6, 3, 5, 7, dtype=torch.double)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
        up.resample[1].weight.data = up.resample[1].weight.data.contiguous(memory_format=torch.channels_last)
    caches = None
    if temporal:
        up.time_conv.cache_name = "t"                            # a standalone module: name its buffer
        caches = {"t": torch.randn(2, 6, 2, 5, 7, dtype=torch.double)}
    ref = up(x, {k: v.clone() for k, v in caches.items()} if caches else None)
    up.subpixel = True
    got = up(x, {k: v.clone() for k, v in caches.items()} if caches else None)
    assert got.shape == ref.shape == (2, 3, 6 if temporal else 3, 10, 14)
    assert_close(got, ref, atol=1e-12, rtol=1e-12)
    if channels_last and not temporal:
        assert got.is_contiguous(memory_format=torch.channels_last_3d)
    w, b = subpixel_weights(up.resample[1].weight, up.resample[1].bias)
    assert w.shape == (12, 6, 2, 2) and b.shape == (12,)


def test_subpixel_upsample_decodes_the_same_video():
    """WanVAEDecoder.subpixel_upsample on the whole decoder: streamed per frame, channels-last, convs padding
    themselves (the fast defaults together), the same video as Wan's layout; off again restores the path."""
    dec, z = tiny(), latents(7, seed=8)
    fast = WanVAEDecoder(TINY).eval()
    fast.load_state_dict(dec.state_dict())
    fast.to_channels_last().pad_space_in_conv().subpixel_upsample()
    ups = [m for m in fast.modules() if isinstance(m, Upsample)]
    assert len(ups) == 3 and all(m.subpixel for m in ups)
    ref = dec.decode(z)
    state = fast.new_stream(1, HW)
    assert_close(torch.cat([fast.decode_block(z[:, a:b], state, per_frame=True) for a, b in ((0, 3), (3, 7))], dim=1),
                 ref, atol=1e-5, rtol=1e-5)
    assert not any(m.subpixel for m in fast.subpixel_upsample(False).modules() if isinstance(m, Upsample))


def test_attention_by_gemms_is_sdpa_and_decodes_the_same_video():
    """attention_by_gemms against SDPA (float64 reference: float32 to 2e-5, BF16 within twice SDPA's own BF16
    error), and WanVAEDecoder.attention_by_gemms on the whole decoder: the same video; off again restores SDPA."""
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 120, 48, generator=g) * 2 for _ in range(3))
    ref = F.scaled_dot_product_attention(*(t.double() for t in (q, k, v)))
    assert (attention_by_gemms(q, k, v).double() - ref).abs().max() < 2e-5
    q, k, v = (t.bfloat16() for t in (q, k, v))
    low, ref = attention_by_gemms(q, k, v), F.scaled_dot_product_attention(*(t.double() for t in (q, k, v)))
    sdpa = F.scaled_dot_product_attention(q, k, v)
    assert low.dtype == torch.bfloat16 and (low.double() - ref).abs().max() <= 2 * (sdpa.double() - ref).abs().max()
    dec, z = tiny(), latents(7, seed=8)
    fast = WanVAEDecoder(TINY).eval()
    fast.load_state_dict(dec.state_dict())
    attn = [m for m in fast.attention_by_gemms().modules() if isinstance(m, AttentionBlock)]
    assert attn and all(m.by_gemms for m in attn)
    assert_close(stream(fast, z, [1, 3, 3])[0], dec.decode(z), atol=1e-5, rtol=1e-5)
    assert not any(m.by_gemms for m in fast.attention_by_gemms(False).modules() if isinstance(m, AttentionBlock))


@pytest.mark.parametrize("fused", [False, True])
def test_padded_conv_channels_decode_the_same_video(fused):
    """pad_conv_channels: the residual blocks' convs with fewer output channels compute 64 (zero weights past
    theirs) and pass on a view of their own: the same video (float64, to rounding: the same sums), in Wan's
    layout and in the fast defaults' (channels-last, padding in the conv, with the norm + history function of
    compile/vae_kernel.py's CPU reference); the weights keep their shapes, the head is not padded; 0 turns
    it off, a negative count is refused."""
    from compile.vae_kernel import reference_norm_silu_history
    from model.vae import ResidualBlock
    dec = WanVAEDecoder(TINY).double().eval()
    dec.load_state_dict(tiny().state_dict())
    z = latents(5, seed=10).double()
    ref = dec.decode(z)
    fast = WanVAEDecoder(TINY).double().eval()
    fast.load_state_dict(dec.state_dict())
    fast.pad_conv_channels(64)
    convs = [c for m in fast.modules() if isinstance(m, ResidualBlock) for c in (m.residual[2], m.residual[6])]
    assert len(convs) == 28 and all(c.out_pad == 64 for c in convs)       # TINY: all below 64 channels
    assert fast.decoder.head[2].out_pad == 0 and all(c.weight.shape[0] < 64 for c in convs)
    assert_close(fast.decode(z), ref, atol=1e-12, rtol=1e-12)
    fast.to_channels_last().pad_space_in_conv()
    if fused:
        fast.fuse_norm_history(reference_norm_silu_history)
    assert_close(stream(fast, z, [1, 2, 2])[0], ref, atol=1e-12, rtol=1e-12)
    fast.pad_conv_channels(0)
    assert not any(c.out_pad for c in convs)
    fast.pad_conv_channels(32)
    assert all(c.out_pad == (32 if c.out_channels < 32 else 0) for c in convs)
    with pytest.raises(ValueError, match="vae conv channels -1"):
        fast.pad_conv_channels(-1)


def test_history_before_norm_decodes_the_same_video():
    """history_before_norm: the convs behind RMSNorm + SiLU cache their frames before the norm and normalise
    [history, new frames] themselves: the same conv inputs (float64: bit-exact), uneven blocks and per frame;
    the buffers now hold pre-norm frames; traced by torch.compile (aot_eager: the buffer mutations
    functionalized) it stays the same video, and off again restores Wan's buffers."""
    torch.manual_seed(0)
    dec = WanVAEDecoder(TINY).double().eval()
    z = latents(6, seed=9).double()
    ref = dec.decode(z)
    fast = WanVAEDecoder(TINY).double().eval()
    fast.load_state_dict(dec.state_dict())
    fast.history_before_norm()
    assert fast.decoder.history_before_norm and fast.decoder.middle[0].history_before_norm
    assert torch.equal(stream(fast, z, [1, 3, 2])[0], ref)
    state = fast.new_stream(1, HW)
    with torch.no_grad():
        fast.decode_block(z[:, :2], state)
        plain_state = dec.new_stream(1, HW)
        dec.decode_block(z[:, :2], plain_state)
    name = "decoder.upsamples.0.residual.2"                  # first conv of a block: its input is silu(norm(x))
    assert not torch.equal(state.caches[name], plain_state.caches[name])
    fast.to_channels_last().pad_space_in_conv().subpixel_upsample()
    compiled = torch.compile(fast, fullgraph=True, backend="aot_eager")
    state = fast.new_stream(1, HW)
    with torch.no_grad():
        parts = [compiled(z[:, :1], state.caches, True)] + [compiled(z[:, i:i + 1], state.caches, False)
                                                            for i in range(1, 6)]
    assert_close(torch.cat(parts, dim=1), ref, atol=1e-9, rtol=1e-9)
    assert not fast.history_before_norm(False).decoder.history_before_norm


def test_one_pass_over_the_whole_video_equals_decode():
    """decoder(z) without caches: every causal conv zero-pads the whole sequence (no cache at all)."""
    dec, z = tiny(), latents(6, seed=2)
    with torch.no_grad():
        assert_close(dec(z), dec.decode(z), atol=1e-5, rtol=1e-5)


def test_reset_replays_the_stream_and_bad_latents_fail():
    dec, z = tiny(), latents(6, seed=3)
    state = dec.new_stream(1, HW)
    first = [dec.decode_block(z[:, :3], state), dec.decode_block(z[:, 3:], state)]
    buffers = {k: v.data_ptr() for k, v in state.caches.items()}
    state.reset()
    again = [dec.decode_block(z[:, :3], state), dec.decode_block(z[:, 3:], state)]
    assert {k: v.data_ptr() for k, v in state.caches.items()} == buffers       # static buffers
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert first[1].shape[1] == 12
    for bad in (latents(3, batch=2), latents(3, hw=(4, 4)), z[:, :0]):
        with pytest.raises(ValueError, match="do not fit the stream"):
            dec.decode_block(bad, state)


def test_bf16_runs_and_tracks_fp32():
    dec32 = tiny()
    dec16 = WanVAEDecoder(TINY).eval()
    dec16.load_state_dict(dec32.state_dict())
    dec16.to(torch.bfloat16)
    z = latents(5, seed=4)
    video, _ = stream(dec16, z, [2, 3])
    assert video.dtype == torch.float32 and next(iter(dec16.new_stream(1, HW).caches.values())).dtype == torch.bfloat16
    assert_close(video, dec16.decode(z), atol=2e-2, rtol=0)          # bf16: only the pass grouping differs
    assert (video - dec32.decode(z)).abs().mean() < 2e-2


def test_unnormalize_is_wans_bf16_recipe():
    """z / (1/std) + mean with std rounded to bf16 and 1/std computed in bf16 (WanVAEWrapper.decode_to_pixel)."""
    cfg = VAE_PRESETS["wan2_1"]
    assert len(cfg.latents_mean) == len(cfg.latents_std) == 16
    assert (cfg.latents_mean[0], cfg.latents_mean[7], cfg.latents_std[8], cfg.latents_std[15]) == \
        (-0.7571, 1.5508, 3.2687, 1.9160)
    z = torch.randn(2, 16, 3, 4, 4).bfloat16()
    mean = torch.tensor(cfg.latents_mean).to(torch.bfloat16).view(1, 16, 1, 1, 1)
    inv_std = 1.0 / torch.tensor(cfg.latents_std).to(torch.bfloat16).view(1, 16, 1, 1, 1)
    assert inv_std.dtype == torch.bfloat16
    assert torch.equal(tiny().unnormalize(z), z / inv_std + mean)


# ---- (e) the static zero cache equals Wan's list-based feat_cache ----------------------------------------

def test_causal_conv_stream_equals_whole_sequence():
    """One CausalConv3d fed in uneven chunks through its zero-initialised buffer == one zero-padded conv."""
    g = torch.Generator().manual_seed(5)
    conv = CausalConv3d(3, 4, 3, padding=1)
    conv.cache_name = "c"
    x = torch.randn(2, 3, 9, 5, 6, generator=g)
    caches = {"c": torch.zeros(2, 3, 2, 5, 6)}
    with torch.no_grad():
        chunks = [conv(part, caches) for part in x.split([1, 3, 2, 1, 2], dim=2)]
        direct = F.conv3d(F.pad(x, (1, 1, 1, 1, 2, 0)), conv.weight, conv.bias)
    assert_close(torch.cat(chunks, dim=2), direct, atol=1e-5, rtol=1e-5)
    assert torch.equal(caches["c"], x[:, :, -2:])                    # the buffer holds the last 2 inputs


def wan_list_cache_decode(dec: WanVAEDecoder, z: torch.Tensor) -> torch.Tensor:
    """Wan's WanVAE_.decode written out literally over `dec`'s weights: one latent frame per pass, a Python
    list feat_cache of None / 'Rep' / tensors of 1 or 2 frames, F.pad for whatever history is missing."""
    feat_cache = [None] * sum(isinstance(m, CausalConv3d) for m in dec.decoder.modules())

    def causal_conv(conv, x, idx):
        p = conv.hw_pad[0]
        cache_x = x[:, :, -2:].clone()
        if cache_x.shape[2] < 2 and feat_cache[idx] is not None:
            cache_x = torch.cat([feat_cache[idx][:, :, -1:], cache_x], dim=2)
        front = 2
        if feat_cache[idx] is not None:
            x = torch.cat([feat_cache[idx], x], dim=2)
            front -= feat_cache[idx].shape[2]
        feat_cache[idx] = cache_x
        return F.conv3d(F.pad(x, (p, p, p, p, front, 0)), conv.weight, conv.bias)

    def time_conv(conv, x, idx):
        if feat_cache[idx] is None:               # first frame: mark 'Rep', no time_conv
            feat_cache[idx] = "Rep"
            return x
        rep = isinstance(feat_cache[idx], str)
        cache_x = x[:, :, -2:].clone()
        if cache_x.shape[2] < 2:
            prev = torch.zeros_like(cache_x) if rep else feat_cache[idx][:, :, -1:]
            cache_x = torch.cat([prev, cache_x], dim=2)
        history = x if rep else torch.cat([feat_cache[idx], x], dim=2)
        y = F.conv3d(F.pad(history, (0, 0, 0, 0, 2 if rep else 2 - feat_cache[idx].shape[2], 0)),
                     conv.weight, conv.bias)
        feat_cache[idx] = cache_x
        b, c, t, h, w = x.shape
        y = y.reshape(b, 2, c, t, h, w)
        return torch.stack((y[:, 0], y[:, 1]), dim=3).reshape(b, c, 2 * t, h, w)

    def rms(x, norm):
        return F.normalize(x, dim=1) * x.shape[1] ** 0.5 * norm.gamma

    def per_frame(x, fn):                          # b c t h w -> (b t) c h w -> fn -> back
        b, c, t, h, w = x.shape
        y = fn(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w))
        return y.reshape(b, t, *y.shape[1:]).permute(0, 2, 1, 3, 4)

    def attention(x, blk):
        def attend(y):
            n, c, h, w = y.shape
            qkv = F.conv2d(rms(y, blk.norm), blk.to_qkv.weight, blk.to_qkv.bias)
            q, k, v = qkv.reshape(n, 1, 3 * c, h * w).permute(0, 1, 3, 2).contiguous().chunk(3, dim=-1)
            o = F.scaled_dot_product_attention(q, k, v).squeeze(1).permute(0, 2, 1).reshape(n, c, h, w)
            return F.conv2d(o, blk.proj.weight, blk.proj.bias)
        return x + per_frame(x, attend)

    def run(x):
        idx = iter(range(len(feat_cache)))
        x = causal_conv(dec.decoder.conv1, x, next(idx))
        for blk in (*dec.decoder.middle, *dec.decoder.upsamples):
            if isinstance(blk, Upsample):
                if blk.temporal:
                    x = time_conv(blk.time_conv, x, next(idx))
                conv2d = blk.resample[1]
                x = per_frame(x, lambda y: F.conv2d(F.interpolate(y.float(), scale_factor=2.0, mode="nearest"),
                                                    conv2d.weight, conv2d.bias, padding=1))
            elif hasattr(blk, "to_qkv"):
                x = attention(x, blk)
            else:
                h = x if isinstance(blk.shortcut, torch.nn.Identity) else \
                    F.conv3d(x, blk.shortcut.weight, blk.shortcut.bias)
                r = causal_conv(blk.residual[2], F.silu(rms(x, blk.residual[0])), next(idx))
                x = causal_conv(blk.residual[6], F.silu(rms(r, blk.residual[3])), next(idx)) + h
        head = dec.decoder.head
        return causal_conv(head[2], F.silu(rms(x, head[0])), next(idx))

    cfg = dec.cfg
    mean = torch.tensor(cfg.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(cfg.latents_std).view(1, -1, 1, 1, 1)
    x = z.permute(0, 2, 1, 3, 4) / (1.0 / std) + mean
    x = F.conv3d(x, dec.conv2.weight, dec.conv2.bias)
    with torch.no_grad():
        out = torch.cat([run(x[:, :, i:i + 1]) for i in range(x.shape[2])], dim=2)
    rep_left = sum(isinstance(c, str) for c in feat_cache)          # 'Rep' lives until the second frame
    assert rep_left == (2 if x.shape[2] == 1 else 0)
    return out.permute(0, 2, 1, 3, 4).clamp(-1, 1)


@pytest.mark.parametrize("blocks", [[1], [2], [3, 3, 1], [1, 2, 2]])
def test_static_cache_equals_wan_list_cache(blocks):
    dec, z = tiny(1), latents(sum(blocks), seed=6)
    with torch.no_grad():
        wan = wan_list_cache_decode(dec, z)
    assert wan.shape[1] == 1 + 4 * (sum(blocks) - 1)
    video, _ = stream(dec, z, blocks)
    assert_close(video, wan, atol=1e-5, rtol=1e-5)


# ---- (c) the wan2_1 preset: official names and shapes ------------------------------------------------------

OFFICIAL_SHAPES = {                                     # SPEC-wan section 7 and Wan2.1_VAE.pth
    "conv2.weight": (16, 16, 1, 1, 1),
    "decoder.conv1.weight": (384, 16, 3, 3, 3),
    "decoder.middle.0.residual.0.gamma": (384, 1, 1, 1),
    "decoder.middle.0.residual.2.weight": (384, 384, 3, 3, 3),
    "decoder.middle.1.norm.gamma": (384, 1, 1),
    "decoder.middle.1.to_qkv.weight": (1152, 384, 1, 1),
    "decoder.middle.1.proj.bias": (384,),
    "decoder.upsamples.3.resample.1.weight": (192, 384, 3, 3),
    "decoder.upsamples.3.time_conv.weight": (768, 384, 3, 1, 1),
    "decoder.upsamples.4.shortcut.weight": (384, 192, 1, 1, 1),
    "decoder.upsamples.7.time_conv.bias": (768,),
    "decoder.upsamples.11.resample.1.weight": (96, 192, 3, 3),
    "decoder.upsamples.14.residual.6.weight": (96, 96, 3, 3, 3),
    "decoder.head.0.gamma": (96, 1, 1, 1),
    "decoder.head.2.weight": (3, 96, 3, 3, 3),
}


def wan2_1_parameter_count():
    """Derived by hand from SPEC-wan section 7."""
    conv = lambda i, o, k: o * i * k + o
    res = lambda i, o: i + conv(i, o, 27) + o + conv(o, o, 27) + (conv(i, o, 1) if i != o else 0)
    attn = lambda c: c + conv(c, 3 * c, 1) + conv(c, c, 1)
    up2d = lambda c: conv(c, c // 2, 9)
    up3d = lambda c: up2d(c) + conv(c, 2 * c, 3)
    return (conv(16, 16, 1) + conv(16, 384, 27) + 2 * res(384, 384) + attn(384)          # conv2, conv1, middle
            + 3 * res(384, 384) + up3d(384)                                             # upsamples 0-3
            + res(192, 384) + 2 * res(384, 384) + up3d(384)                             # 4-7
            + 3 * res(192, 192) + up2d(192) + 3 * res(96, 96)                           # 8-14
            + 96 + conv(96, 3, 27))                                                     # head


def test_wan2_1_names_shapes_and_cache_size():
    with torch.device("meta"):
        dec = WanVAEDecoder(VAE_PRESETS["wan2_1"]).to(torch.bfloat16)
    sd = dec.state_dict()
    for key, shape in OFFICIAL_SHAPES.items():
        assert tuple(sd[key].shape) == shape, key
    # conv2 2 + conv1 2 + middle 6+5+6 + 12 res x 6 + shortcut 2 + 2 upsample3d x 4 + upsample2d 2 + head 3
    assert len(sd) == 108
    assert not [k for k in sd if not k.startswith(("conv2.", "decoder."))]
    assert sum(v.numel() for v in sd.values()) == wan2_1_parameter_count() == 73_295_603
    # 32 cached convs (33 CausalConv3d, the 1x1x1 shortcut keeps nothing); ~1.9 GB in bf16 at 480x832
    state = dec.new_stream(1, (60, 104), device="meta")
    assert len(state.caches) == 32
    assert state.caches["decoder.head.2"].shape == (1, 96, 2, 480, 832)
    assert state.caches["decoder.upsamples.7.time_conv"].shape == (1, 384, 2, 120, 208)
    assert sum(b.numel() * b.element_size() for b in state.caches.values()) == 1_888_573_440


# ---- (d) weights: both layouts round-trip exactly; bad files fail clearly --------------------------------

def to_diffusers(sd: dict) -> dict:
    """Our (official) keys -> diffusers AutoencoderKLWan's, written from diffusers' module tree, not ours."""
    res = {"residual.0": "norm1", "residual.2": "conv1", "residual.3": "norm2", "residual.6": "conv2",
           "shortcut": "conv_shortcut"}
    mid = {"0": "resnets.0", "1": "attentions.0", "2": "resnets.1"}
    out = {}
    for key, v in sd.items():
        parts = key.split(".")
        if parts[0] == "conv2":
            new = "post_quant_conv." + ".".join(parts[1:])
        elif parts[1] == "conv1":
            new = "decoder.conv_in." + ".".join(parts[2:])
        elif parts[1] == "head":
            new = {"0": "decoder.norm_out.", "2": "decoder.conv_out."}[parts[2]] + parts[3]
        else:
            i, rest = parts[2], ".".join(parts[3:])
            for ours, theirs in res.items():
                if rest.startswith(ours + "."):
                    rest = theirs + rest[len(ours):]
            if parts[1] == "middle":
                new = f"decoder.mid_block.{mid[i]}.{rest}"
            else:                                   # 4 flat slots per stage: 3 resnets + the upsampler
                stage, slot = divmod(int(i), 4)
                inner = "upsamplers.0" if slot == 3 else f"resnets.{slot}"
                new = f"decoder.up_blocks.{stage}.{inner}.{rest}"
        out[new] = v
    return out


DIFFUSERS_NAMES = {                                     # real AutoencoderKLWan names -> official ones
    "post_quant_conv.weight": "conv2.weight",
    "decoder.conv_in.bias": "decoder.conv1.bias",
    "decoder.mid_block.resnets.1.norm2.gamma": "decoder.middle.2.residual.3.gamma",
    "decoder.mid_block.attentions.0.to_qkv.weight": "decoder.middle.1.to_qkv.weight",
    "decoder.up_blocks.0.upsamplers.0.time_conv.weight": "decoder.upsamples.3.time_conv.weight",
    "decoder.up_blocks.1.resnets.0.conv_shortcut.weight": "decoder.upsamples.4.shortcut.weight",
    "decoder.up_blocks.2.upsamplers.0.resample.1.bias": "decoder.upsamples.11.resample.1.bias",
    "decoder.up_blocks.3.resnets.2.conv2.weight": "decoder.upsamples.14.residual.6.weight",
    "decoder.norm_out.gamma": "decoder.head.0.gamma",
    "decoder.conv_out.weight": "decoder.head.2.weight",
}


def test_diffusers_names_map_to_official():
    t = torch.zeros(1)
    assert vae_state_dict_from_diffusers(dict.fromkeys(DIFFUSERS_NAMES, t)) == \
        dict.fromkeys(DIFFUSERS_NAMES.values(), t)
    assert vae_state_dict_from_diffusers({"encoder.conv_in.weight": t, "quant_conv.bias": t}) == {}


def fake_encoder_keys():
    return {"encoder.conv1.weight": torch.randn(8, 3, 3, 3, 3), "encoder.head.2.bias": torch.randn(32),
            "conv1.weight": torch.randn(32, 32, 1, 1, 1), "conv1.bias": torch.randn(32)}


@pytest.mark.parametrize("layout", ["official", "diffusers"])
@pytest.mark.parametrize("as_file", [False, True])
def test_checkpoint_round_trip(layout, as_file, tmp_path):
    src = tiny()
    sd = {k: v.clone() for k, v in src.state_dict().items()}
    if layout == "official":
        sd.update(fake_encoder_keys())                  # a whole Wan2.1_VAE.pth: encoder side dropped
    else:
        sd = to_diffusers(sd)
        sd.update({"encoder.conv_in.weight": torch.randn(8, 3, 3, 3, 3),
                   "quant_conv.weight": torch.randn(32, 32, 1, 1, 1)})
    if as_file:
        path = tmp_path / ("vae.pth" if layout == "official" else "vae.safetensors")
        torch.save(sd, path) if layout == "official" else save_file(sd, str(path))
        sd = path
    with torch.device("meta"):
        dst = WanVAEDecoder(TINY)
    load_vae_weights(dst, sd)
    assert not any(p.is_meta for p in dst.parameters())
    z = latents(5, seed=7)
    assert torch.equal(dst.eval().decode(z), src.decode(z))


def test_load_casts_to_the_decoder_dtype():
    dst = WanVAEDecoder(TINY).to(torch.bfloat16)
    load_vae_weights(dst, tiny().state_dict())
    assert all(p.dtype == torch.bfloat16 for p in dst.parameters())
    assert torch.equal(dst.conv2.weight, tiny().conv2.weight.bfloat16())


def broken(kind):
    sd = {k: v.clone() for k, v in tiny().state_dict().items()}
    if kind == "missing":
        del sd["decoder.upsamples.3.time_conv.weight"]
    elif kind == "unexpected":
        sd["decoder.upsamples.3.time_conv.extra"] = torch.zeros(1)
    else:
        sd["decoder.upsamples.3.time_conv.weight"] = torch.zeros(64, 32, 1, 1, 1)
    return sd


@pytest.mark.parametrize("kind,words", [("missing", "1 missing"), ("unexpected", "1 unexpected"),
                                        ("wrong shape", "1 wrong shape")])
def test_bad_checkpoint_raises_one_clear_error(kind, words):
    with pytest.raises(ValueError) as err:
        load_vae_weights(WanVAEDecoder(TINY), broken(kind), source="my_vae.pth")
    msg = str(err.value)
    assert words in msg and "decoder.upsamples.3.time_conv." in msg and "my_vae.pth" in msg


def test_side_stream_decoder_on_the_cpu_is_the_serial_decode():
    dec, z = tiny(), latents(7, seed=3)
    ref, _ = stream(dec, z, [1, 3, 3])
    state = dec.new_stream(1, HW)
    side = SideStreamDecoder(dec, state)
    pending = [side.submit(z[:, a:b]) for a, b in ((0, 1), (1, 4), (4, 7))]
    assert side.stream is None and all(p.end is None for p in pending)
    assert torch.equal(torch.cat([p.frames() for p in pending], dim=1), ref)


# ---- CUDA: BF16 on the GPU and a compiled pass ------------------------------------------------------------

@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_side_stream_decode_overlapping_other_work_equals_serial():
    """Blocks decoded on the second stream while the main stream keeps busy (and reuses freed memory) give
    the serial decode's frames bit for bit; each pending block carries its side-stream events."""
    dec = tiny().cuda().to(torch.bfloat16)
    z = latents(10, seed=4).cuda().to(torch.bfloat16)
    ref, _ = stream(dec, z, [1, 3, 3, 3])
    side = SideStreamDecoder(dec, dec.new_stream(1, HW))
    pending, frames = [], []
    for a, b in ((0, 1), (1, 4), (4, 7), (7, 10)):
        block = z[:, a:b].clone()                               # freed by the main stream after submit
        pending.append(side.submit(block))
        del block
        busy = torch.randn(2048, 2048, device="cuda")
        for _ in range(20):                                     # main-stream work meanwhile
            busy = (busy @ busy).tanh()
        if len(pending) > 1:
            frames.append(pending[-2].frames().clone())
    frames.append(pending[-1].frames().clone())
    torch.cuda.synchronize()
    assert torch.equal(torch.cat(frames, dim=1), ref)
    assert all(p.start.elapsed_time(p.end) > 0 for p in pending)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_attention_by_gemms_on_cuda_keeps_float32_logits():
    """On CUDA the logits come from a BF16 GEMM with a float32 output (bmm out_dtype): the same as the widened
    inputs' float32 GEMM up to summation order, and compiled (the VAE's path) the same as eager."""
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(2, 1000, 384, generator=g).cuda().bfloat16() for _ in range(3))
    out = attention_by_gemms(q, k, v)
    wide = attention_by_gemms(q.float(), k.float(), v.float())
    ref = F.scaled_dot_product_attention(*(t.double() for t in (q, k, v)))
    assert out.dtype == torch.bfloat16 and (out.double() - ref).abs().max() < 2e-2
    assert (wide.double() - ref).abs().max() < 1e-4
    compiled = torch.compile(attention_by_gemms, fullgraph=True)(q, k, v)
    assert (compiled.double() - out.double()).abs().max() < 2e-2


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_stream_and_compiled_pass(monkeypatch):
    """On the GPU: BF16 streaming equals decode; a fullgraph-compiled pass updates the static caches as eager
    does (FP32, TF32 off: tight); compiled BF16 differs only by rounding (Inductor keeps fused
    intermediates in FP32)."""
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    z = latents(7, seed=8).cuda()
    for dtype in (torch.float32, torch.bfloat16):
        dec = WanVAEDecoder(TINY).eval()
        dec.load_state_dict(tiny().state_dict())
        dec.to("cuda", dtype)
        eager, counts = stream(dec, z, [1, 3, 3])
        assert counts == [1, 12, 12] and eager.is_cuda and eager.dtype == torch.float32
        assert_close(eager, dec.decode(z), atol=2e-2 if dtype == torch.bfloat16 else 1e-5, rtol=0)
        compiled, state = torch.compile(dec, fullgraph=True), dec.new_stream(1, HW)
        with torch.no_grad():
            parts = [compiled(z[:, :1], state.caches, True)]
            parts += [compiled(z[:, i:i + 3], state.caches, False) for i in (1, 4)]
        diff = (torch.cat(parts, dim=1) - eager).abs()
        if dtype == torch.float32:
            assert diff.max() < 1e-4
        else:
            assert diff.mean() < 1e-2 and diff.max() < 0.25
    last = WanVAEDecoder(TINY).eval()                     # channels-last: cuDNN keeps NDHWC through the decoder
    last.load_state_dict(tiny().state_dict())
    last.to("cuda", torch.bfloat16).to_channels_last()
    layouts = []
    last.decoder.upsamples[-1].register_forward_hook(
        lambda m, i, o: layouts.append(o.is_contiguous(memory_format=torch.channels_last_3d)))
    assert_close(stream(last, z, [1, 3, 3])[0], dec.decode(z), atol=2e-2, rtol=0)
    assert layouts and all(layouts)


def test_vae_bytes_counts_the_convolutions_as_the_flop_counter_does():
    """benchmarks/vae_bytes.py (the VAE floor in BENCHMARKS.md): its convolution FLOPs for a streamed
    block equal torch.utils.flop_counter's, and the fused floor is below the unfused bytes."""
    import sys
    from pathlib import Path
    from torch.utils.flop_counter import FlopCounterMode
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import vae_bytes

    counter = vae_bytes.count_block(vae_bytes.build("tiny"), hw=(6, 10))
    conv = counter.rows["convolution"]
    vae = vae_bytes.build("tiny")
    state = vae.new_stream(1, (6, 10))
    z = torch.zeros(1, 1, vae.cfg.z_dim, 6, 10, dtype=vae.dtype, device="meta")
    with torch.no_grad():
        vae.decode_block(z, state)
        with FlopCounterMode(display=False) as flops:
            vae.decode_block(z.expand(1, vae_bytes.F, *z.shape[2:]), state, per_frame=True)
    counts = flops.get_flop_counts()["Global"]
    assert conv["flops"] == counts[torch.ops.aten.convolution] > 0
    unfused = sum(r["read"] + r["written"] for k, r in counter.rows.items() if k != "convolution")
    assert 0 < counter.floor_bytes < unfused
    assert {"norm", "activation", "copies and cache", "upsampling", "attention"} <= set(counter.rows)
    assert not counter.where                     # every module's hook pair ran
    padded = vae_bytes.count_block(vae_bytes.build("tiny", pad_in_conv=True), hw=(6, 10))
    copies = [sum(c.rows["copies and cache"][k] for k in ("read", "written")) for c in (counter, padded)]
    assert copies[1] < copies[0] and padded.rows["convolution"]["flops"] == conv["flops"]


def test_vae_bench_memory_replay_finds_the_peak_and_what_is_live_there():
    """benchmarks/vae_bench.py --memory-trace (BENCHMARKS.md, VAE: the compiled VAE's memory): the replay of an
    allocator trace peaks where the most bytes are live, lists those allocations largest first with the
    frame in the model or in Inductor's generated code, and ignores frees of what was live before."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import vae_bench

    frame = lambda f, line: [{"filename": "/usr/lib/torch/x.py", "line": 1, "name": "op"},
                             {"filename": f, "line": line, "name": "forward"}]
    MiB = 2 ** 20
    events = [{"action": "free_completed", "addr": 99, "size": 512 * MiB},     # live before the trace
              {"action": "alloc", "addr": 1, "size": 100 * MiB, "frames": frame("/repo/model/vae.py", 106)},
              {"action": "alloc", "addr": 2, "size": 300 * MiB, "frames": frame("/repo/model/vae.py", 114)},
              {"action": "free_completed", "addr": 1, "size": 100 * MiB},
              {"action": "alloc", "addr": 3, "size": 50 * MiB, "frames": []},
              {"action": "alloc", "addr": 4, "size": 200 * MiB, "frames": frame("/repo/compile/vae_kernel.py", 87)},
              {"action": "free_completed", "addr": 2, "size": 300 * MiB},
              {"action": "alloc", "addr": 5, "size": 10 * MiB, "frames": []}]
    r = vae_bench.replay_peak(events, top=2)
    assert r["peak_gib"] == 550 / 1024 and r["live_at_peak"] == 3                # 300 + 50 + 200 MiB
    assert [a["mib"] for a in r["largest"]] == [300, 200]
    assert r["largest"][0]["where"] == "vae.py:114 forward"
    assert r["largest"][1]["where"] == "vae_kernel.py:87 forward"
