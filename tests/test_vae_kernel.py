"""compile/vae_kernel.py: the VAE's RMSNorm + SiLU reading each conv's history (WanVAEDecoder.fuse_norm_history).
On the CPU the wiring runs with the plain-torch reference; on the GPU the Triton kernel is held to it."""
import pytest
import torch
from torch.testing import assert_close

from compile import vae_kernel
from model.vae import VAE_PRESETS, WanVAEDecoder

TINY = VAE_PRESETS["tiny"]
cuda = pytest.mark.skipif(not torch.cuda.is_available() or vae_kernel.UNAVAILABLE is not None,
                          reason="needs a CUDA GPU and Triton")


def decoder(dtype=torch.float64, seed=1):
    return WanVAEDecoder(TINY).init_random(torch.Generator().manual_seed(seed)).to(dtype).eval()


def streamed(dec, z, blocks, per_frame=True):
    state = dec.new_stream(z.shape[0], z.shape[-2:])
    with torch.no_grad():
        out, start = [], 0
        for n in blocks:
            out.append(dec.decode_block(z[:, start:start + n], state, per_frame=per_frame))
            start += n
    return torch.cat(out, dim=1)


@pytest.mark.parametrize("per_frame", [True, False])
def test_fused_wiring_with_the_reference_is_the_same_video(per_frame):
    """fuse_norm_history with the plain-torch reference: biases moved behind the bare convs, histories kept
    before the norm; float64, bit-exact against Wan's layout, one pass per latent frame or per block."""
    dec, z = decoder(), torch.randn(2, 5, 16, 6, 10, generator=torch.Generator().manual_seed(2)).double()
    ref = dec.decode(z)
    fast = decoder()
    fast.to_channels_last().pad_space_in_conv().fuse_norm_history(vae_kernel.reference_norm_silu_history)
    assert fast.decoder.history_before_norm and fast.decoder.upsamples[0].norm_history is not None
    assert torch.equal(streamed(fast, z, [1, 2, 2], per_frame), ref)
    fast.fuse_norm_history(None)
    assert not fast.decoder.history_before_norm and fast.decoder.norm_history is None


def test_reference_updates_the_history_and_adds_the_bias():
    torch.manual_seed(0)
    x, hist = torch.randn(1, 4, 1, 2, 3), torch.randn(1, 4, 2, 2, 3)
    bias, gamma = torch.randn(4), torch.rand(4) + 0.5
    old = hist.clone()
    out = vae_kernel.norm_silu_history_reference(x, hist, bias, True, gamma, 2.0)
    xb = x + bias.view(1, -1, 1, 1, 1)
    assert torch.equal(hist, torch.cat([old[:, :, 1:], xb], dim=2))       # T = 1: [old frame 1, new frame]
    cat = torch.cat([old, xb], dim=2)
    y = cat / cat.norm(dim=1, keepdim=True) * 2.0 * gamma.view(1, -1, 1, 1, 1)
    assert_close(out, y * torch.sigmoid(y))


def test_head_taps_are_the_head_conv_and_their_wiring_the_same_video():
    """The head conv through its taps' products (head_taps_reference, the kernels' layout) is the conv (float64);
    head_taps_kernel with the plain-torch reference in the fused path: bit-exact against the path without it;
    the entry refuses weights the kernels were not written for."""
    g = torch.Generator().manual_seed(5)
    inp, w = torch.randn(2, 8, 5, 6, 7, generator=g).double(), torch.randn(3, 8, 3, 3, 3, generator=g).double()
    assert (vae_kernel.head_taps_reference(inp, w) - torch.nn.functional.conv3d(inp, w, None, 1, (0, 1, 1))).abs().max() < 1e-12
    z = torch.randn(1, 5, 16, 4, 6, generator=torch.Generator().manual_seed(4)).double()
    fast = decoder(torch.float64)
    fast.to_channels_last().pad_space_in_conv().fuse_norm_history(vae_kernel.reference_norm_silu_history)
    plain = streamed(fast, z, [1, 2, 2])
    fast.head_taps_kernel(vae_kernel.norm_silu_head_reference)
    assert fast.decoder.head_taps is vae_kernel.norm_silu_head_reference
    assert torch.equal(streamed(fast, z, [1, 2, 2]), plain)
    assert fast.head_taps_kernel(None).decoder.head_taps is None
    with pytest.raises(ValueError, match="at most 4 output channels"):
        vae_kernel.fused_norm_silu_head(torch.zeros(1, 8, 1, 4, 4), torch.zeros(1, 8, 2, 4, 4), None,
                                        torch.ones(8), 1.0, torch.zeros(16, 8, 3, 3, 3))


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("c,t,b,wide,hw,dtype", [(96, 4, 1, 96, (37, 70), torch.bfloat16),
                                                 (96, 1, 1, 128, (9, 33), torch.bfloat16),
                                                 (8, 2, 2, 8, (16, 24), torch.float32)])
def test_head_taps_kernels_equal_the_norm_and_conv(c, t, b, wide, hw, dtype):
    """The head op (norm + SiLU + history in the first kernel, which stores the 27 taps' products; their sum in
    the second) against the reference norm and F.conv3d: the output to rounding (BF16 products of the same BF16
    input), the history bit-exact; x also as a wider tensor's first channels."""
    g = torch.Generator(device="cuda").manual_seed(c + t)
    cl = torch.channels_last_3d
    x = torch.randn(b, wide, t, *hw, device="cuda", generator=g).to(dtype).contiguous(memory_format=cl)[:, :c]
    hist = torch.randn(b, c, 2, *hw, device="cuda", generator=g).to(dtype).contiguous(memory_format=cl)
    gamma = (torch.rand(c, 1, 1, 1, device="cuda", generator=g) + 0.5).to(dtype)
    w = (torch.randn(3, c, 3, 3, 3, device="cuda", generator=g) / (27 * c) ** 0.5).to(dtype)
    h_ref, h_fast = hist.clone(), hist.clone()
    inp = vae_kernel.fused_norm_silu_history(x, h_ref, None, gamma, c ** 0.5)       # the kernel already tested
    ref = torch.nn.functional.conv3d(inp.double(), w.double(), None, 1, (0, 1, 1))
    out = vae_kernel.fused_norm_silu_head(x, h_fast, None, gamma, c ** 0.5, w)
    assert out.shape == (b, 3, t, *hw) and out.dtype == dtype and out.is_contiguous(memory_format=cl)
    tol = 1e-4 if dtype == torch.float32 else 3e-2
    assert_close(out.double(), ref, atol=tol, rtol=tol)
    assert torch.equal(h_fast, h_ref)


def test_pixel_stride_reads_ndhwc_and_its_channel_slices_only():
    cl = torch.channels_last_3d
    x = torch.zeros(2, 128, 3, 4, 5).contiguous(memory_format=cl)
    assert vae_kernel.pixel_stride(x) == 128 and vae_kernel.pixel_stride(x[:, :96]) == 128
    assert vae_kernel.pixel_stride(x[:, 32:]) == 128                # a channel offset is the data pointer's
    assert vae_kernel.pixel_stride(torch.zeros(2, 8, 3, 4, 5)) is None            # NCDHW
    assert vae_kernel.pixel_stride(x[:, :, 1:]) is None                           # frames cut: not one block
    assert vae_kernel.pixel_stride(x[:, :, :, :, :4]) is None                     # columns cut


def test_channels_first_history_is_refused():
    x, hist = torch.zeros(1, 4, 2, 2, 3), torch.zeros(1, 4, 2, 2, 3)
    with pytest.raises(ValueError, match="channels-last"):
        vae_kernel.fused_norm_silu_history(x, hist, None, torch.ones(4, 1, 1, 1), 2.0)


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("c,t,b,wide", [(96, 4, 1, 96), (192, 2, 2, 192), (384, 1, 1, 384), (8, 4, 2, 8),
                                        (384, 4, 1, 384), (96, 4, 1, 128), (8, 2, 2, 64)])
def test_kernel_equals_the_reference(dtype, c, t, b, wide):
    """The Triton kernel against the reference: the conv input to float rounding, the history bit-exact
    (with and without the previous conv's bias; T = 1 keeps one old frame), odd pixel counts masked; x also as
    the first c channels of a `wide` NDHWC tensor (a padded conv's output, read in place)."""
    g = torch.Generator(device="cuda").manual_seed(c + t)
    cl = torch.channels_last_3d
    x = torch.randn(b, wide, t, 7, 13, device="cuda", generator=g).to(dtype).contiguous(memory_format=cl)[:, :c]
    assert vae_kernel.pixel_stride(x) == wide
    hist = torch.randn(b, c, 2, 7, 13, device="cuda", generator=g).to(dtype).contiguous(memory_format=cl)
    gamma = (torch.rand(c, 1, 1, 1, device="cuda", generator=g) + 0.5).to(dtype)
    bias = torch.randn(c, device="cuda", generator=g).to(dtype)
    for with_bias in (None, bias):
        h_fast = hist.clone()
        new = x.float() + (0 if with_bias is None else bias.float().view(1, -1, 1, 1, 1))
        ref = vae_kernel.norm_silu_history_reference(new.to(dtype).float(), hist.float().clone(), bias, False,
                                                     gamma.float().view(-1), c ** 0.5)
        out = vae_kernel.fused_norm_silu_history(x, h_fast, with_bias, gamma, c ** 0.5)
        assert out.shape == (b, c, t + 2, 7, 13) and out.is_contiguous(memory_format=cl) and out.dtype == dtype
        tol = 1e-5 if dtype == torch.float32 else 2e-2
        assert_close(out.float(), ref, atol=tol, rtol=tol)
        # the history: the last 2 of [old, x (+ bias rounded once to the activation dtype)], bit for bit
        assert torch.equal(h_fast, torch.cat([hist, new.to(dtype)], dim=2)[:, :, -2:])


@pytest.mark.cuda
@cuda
def test_fused_decoder_compiled_equals_decode():
    """The whole tiny decoder with the Triton kernel, eager and compiled (fullgraph, float32; the opaque op and
    the triton_op; the opaque op with the residual convs padded to 64 output channels, pad_conv_channels, and
    the head conv through its taps, head_taps_kernel), against Wan's layout decoding the video at once."""
    torch.backends.cudnn.allow_tf32 = False
    dec = decoder(torch.float32).cuda()
    z = torch.randn(1, 7, 16, 6, 10, generator=torch.Generator().manual_seed(3)).cuda()
    ref = dec.decode(z)
    fast = decoder(torch.float32).cuda()
    fast.to_channels_last().pad_space_in_conv().subpixel_upsample().fuse_norm_history(
        vae_kernel.fused_norm_silu_history)
    assert (streamed(fast, z, [1, 3, 3], per_frame=True) - ref).abs().max() < 1e-4
    for fn, pad in ((vae_kernel.fused_norm_silu_history, 0), (vae_kernel.fused_norm_silu_history_traced, 0),
                    (vae_kernel.fused_norm_silu_history, 64)):
        torch._dynamo.reset()
        fast.fuse_norm_history(fn).pad_conv_channels(pad).head_taps_kernel(
            vae_kernel.fused_norm_silu_head if pad else None)
        compiled, state = torch.compile(fast, fullgraph=True), fast.new_stream(1, (6, 10))
        with torch.no_grad():
            parts = [compiled(z[:, :1], state.caches, True)] + [compiled(z[:, i:i + 1], state.caches, False)
                                                                for i in range(1, 7)]
        assert (torch.cat(parts, dim=1) - ref).abs().max() < 1e-4


def test_pass_runner_sees_each_pass_and_the_first():
    """WanVAEDecoder.pass_runner (compile/cudagraph.GraphedVAEPasses hooks in there) runs every pass of
    decode_block: one per latent frame with per_frame, `first` only for a stream's first pass; same video."""
    dec, z = decoder(), torch.randn(1, 5, 16, 4, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ref = streamed(dec, z, [1, 2, 2])
    calls = []

    def runner(vae, x, state, first):
        calls.append((x.shape[1], first))
        return vae(x, state.caches, first=first)
    dec.pass_runner = runner
    assert torch.equal(streamed(dec, z, [1, 2, 2]), ref)
    assert calls == [(1, True)] + [(1, False)] * 4


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("batch", [1, 2])
def test_graphed_vae_passes_equal_the_plain_passes(batch):
    """compile_vae(cuda_graphs=True) under compile.cuda_graphs: the passes of a stream after its first replay
    CUDA graphs (one per pass shape, on the stream), sharing the DiT graphs' pool; a warm-up stream, then a
    second stream and a stream reset in the same buffers, all equal to the compiled passes run plainly. At
    batch 2 the per-frame slices are not contiguous (the capture's copy is: no trace inside the capture)."""
    from compile.cudagraph import GraphedVAEPasses
    from compile.recipe import CompileConfig, compile_vae
    torch.backends.cudnn.allow_tf32 = False
    z = torch.randn(batch, 7, 16, 6, 10, generator=torch.Generator().manual_seed(3)).cuda()
    cfg = CompileConfig.from_choice("default_cudagraphs")
    torch._dynamo.reset()
    plain = compile_vae(decoder(torch.float32).cuda().to_channels_last(), CompileConfig.from_choice("default"),
                        subpixel=True, fused_norm=True)
    assert plain.pass_runner is None
    ref = streamed(plain, z, [1, 3, 3])
    fast = compile_vae(decoder(torch.float32).cuda().to_channels_last(), cfg, subpixel=True, fused_norm=True,
                       cuda_graphs=True)
    assert isinstance(fast.pass_runner, GraphedVAEPasses)
    streamed(fast, z, [1, 3])                                     # a warm-up stream: its graphs go with it
    state = fast.new_stream(batch, (6, 10))
    for _ in range(2):                                            # a stream, then the same buffers reset
        with torch.no_grad():
            out = torch.cat([fast.decode_block(z[:, :1], state)] +
                            [fast.decode_block(z[:, s:s + 3], state, per_frame=True) for s in (1, 4)], dim=1)
        assert list(state.graphs) == [((batch, 1, 16, 6, 10), torch.float32)]
        assert (out - ref).abs().max() < 1e-5
        state.reset()
    torch._dynamo.reset()
