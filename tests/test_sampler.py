"""The few-step flow-matching schedule of LongLive 1.0 (SPEC-wan section 5) and the sampler's update formulas."""
import torch
from torch.testing import assert_close

from model.config import GenerationConfig
from model.sampler import FlowMatchSampler, flow_match_table


def test_flow_match_table():
    sigmas, timesteps = flow_match_table(5.0)
    assert sigmas.shape == timesteps.shape == (1000,)
    assert sigmas.dtype == timesteps.dtype == torch.float32
    assert sigmas[0].item() == 1.0 and timesteps[0].item() == 1000.0
    assert (sigmas[1:] < sigmas[:-1]).all()
    # sigma_i = 1 - i/1000 shifted: 5 s / (1 + 4 s)
    s = 1 - torch.arange(1000, dtype=torch.float64) / 1000
    assert_close(sigmas.double(), 5 * s / (1 + 4 * s), atol=1e-6, rtol=0)
    assert_close(timesteps, sigmas * 1000)
    assert abs(timesteps[-1].item() - 4.98008) < 1e-4


def test_default_warped_timesteps_and_sigmas():
    smp = FlowMatchSampler(GenerationConfig())
    assert smp.num_steps == 4
    assert smp.timesteps.dtype == smp.sigmas.dtype == torch.float32
    assert_close(smp.timesteps, torch.tensor([1000.0, 937.5, 833.3333, 625.0]), atol=1e-3, rtol=0)
    assert_close(smp.sigmas, torch.tensor([1.0, 0.9375, 0.833333, 0.625]), atol=1e-5, rtol=0)
    assert_close(smp.sigmas, smp.timesteps / 1000, atol=1e-6, rtol=0)  # warped steps lie on the table
    assert smp.timesteps[0].item() == 1000.0 and smp.sigmas[0].item() == 1.0


def test_sigma_of_nearest_table_entry():
    smp = FlowMatchSampler(GenerationConfig())
    assert_close(smp.sigma_of(torch.tensor([0.0])), torch.tensor([0.00498008]), atol=1e-7, rtol=0)
    assert_close(smp.context_sigma, torch.tensor(0.00498008), atol=1e-7, rtol=0)
    assert smp.context_timestep.item() == 0.0
    # nearest entry: t = 1000 and t = 1e6 both map to sigma 1; a value between two entries picks the nearer
    sig, ts = smp.sigma_table, smp.timestep_table
    mid_low = (ts[500] * 0.7 + ts[501] * 0.3).reshape(1)
    assert smp.sigma_of(torch.tensor([1000.0, 1e6])).tolist() == [1.0, 1.0]
    assert smp.sigma_of(mid_low).item() == sig[500].item()


def test_unwarped_timesteps_are_the_raw_steps():
    smp = FlowMatchSampler(GenerationConfig(warp_denoising_step=False))
    assert smp.timesteps.tolist() == [1000.0, 750.0, 500.0, 250.0]
    # sigma of t: the table entry whose timestep is nearest (spacing up to 3.2 timesteps near t = 250)
    ts = smp.timestep_table.tolist()
    for t, sig in zip(smp.timesteps.tolist(), smp.sigmas.tolist()):
        i = min(range(1000), key=lambda j: abs(ts[j] - t))
        assert sig == smp.sigma_table[i].item()
        assert abs(ts[i] - t) < 1.7
    assert_close(smp.sigmas, smp.timesteps / 1000, atol=2e-3, rtol=0)


def test_warp_other_settings():
    """T[1000 - s] = 1000 shift (s/1000) / (1 + (shift - 1) s/1000)."""
    smp = FlowMatchSampler(GenerationConfig(timestep_shift=3.0, denoising_steps=(1000, 500, 100)))
    want = [1000 * 3 * s / (1 + 2 * s) for s in (1.0, 0.5, 0.1)]
    assert_close(smp.timesteps, torch.tensor(want), atol=1e-3, rtol=0)


def test_x0_from_flow_and_add_noise():
    g = torch.Generator().manual_seed(0)
    xt, flow, eps = (torch.randn(2, 3, 16, 4, 6, generator=g) for _ in range(3))
    sigma = torch.tensor(0.9375)
    x0 = FlowMatchSampler.x0_from_flow(xt, flow, sigma)
    assert_close(x0, xt - 0.9375 * flow)
    xn = FlowMatchSampler.add_noise(x0, eps, torch.tensor(0.625))
    assert_close(xn, 0.375 * x0 + 0.625 * eps)
    # x_t = (1 - s) x0 + s eps and v = eps - x0  =>  x0_from_flow recovers x0
    s = torch.tensor(0.833333)
    assert_close(FlowMatchSampler.x0_from_flow(FlowMatchSampler.add_noise(x0, eps, s), eps - x0, s), x0,
                 atol=1e-5, rtol=1e-5)
    # dtypes: x0 in x_t's dtype, re-noised sample in the noise's dtype; arithmetic in float32
    xb = FlowMatchSampler.x0_from_flow(xt.bfloat16(), flow.bfloat16(), sigma)
    assert xb.dtype == torch.bfloat16
    assert torch.equal(xb, (xt.bfloat16().float() - sigma * flow.bfloat16().float()).bfloat16())
    assert FlowMatchSampler.add_noise(x0, eps.bfloat16(), sigma).dtype == torch.bfloat16
