"""The few-step flow-matching sampler of LongLive 1.0 (SPEC-wan section 5).

Schedule: sigma_i = linspace(1, 0, 1001)[:1000] in float32, shifted sigma' = s sigma / (1 + (s-1) sigma),
timesteps = 1000 sigma'. Denoising step s is warped to T[1000 - s] with T = timesteps + [0], so
[1000, 750, 500, 250] -> [1000, 937.5, 833.33, 625] (sigma 1, 0.9375, 0.8333, 0.625). sigma(t) is the
table entry whose timestep is nearest to t (t = 0 -> 0.00498). All of it is computed once on the host;
the model receives timesteps and the update receives sigmas as device tensors.
"""
import torch

from .config import GenerationConfig


def flow_match_table(shift: float, num_train_timesteps: int = 1000):
    """(sigmas, timesteps), float32 [num_train_timesteps] each, as FlowMatchScheduler(training=True)."""
    sigmas = torch.linspace(1.0, 0.0, num_train_timesteps + 1, dtype=torch.float32)[:-1]
    sigmas = shift * sigmas / (1 + (shift - 1) * sigmas)
    return sigmas, sigmas * num_train_timesteps


class FlowMatchSampler:
    """Warped timesteps and sigmas of the denoising steps; x0 from a flow prediction; re-noising."""

    def __init__(self, cfg: GenerationConfig, device=None):
        self.sigma_table, self.timestep_table = flow_match_table(cfg.timestep_shift, cfg.num_train_timesteps)
        steps = torch.tensor(cfg.denoising_steps, dtype=torch.long)
        if cfg.warp_denoising_step:
            padded = torch.cat([self.timestep_table, torch.zeros(1)])
            timesteps = padded[cfg.num_train_timesteps - steps]
        else:
            timesteps = steps.float()
        self.timesteps = timesteps.to(device)                               # [S] float32
        self.sigmas = self.sigma_of(timesteps).to(device)                    # [S] float32
        self.context_timestep = torch.tensor(float(cfg.context_noise), device=device)
        self.context_sigma = self.sigma_of(torch.tensor([float(cfg.context_noise)]))[0].to(device)

    def sigma_of(self, t: torch.Tensor) -> torch.Tensor:
        idx = (self.timestep_table[None, :] - t.float()[:, None]).abs().argmin(dim=1)
        return self.sigma_table[idx]

    @property
    def num_steps(self) -> int:
        return self.timesteps.shape[0]

    @staticmethod
    def x0_from_flow(xt: torch.Tensor, flow: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """x0 = x_t - sigma v, in float32, returned in x_t's dtype (the reference uses float64 here)."""
        return (xt.float() - sigma * flow.float()).to(xt.dtype)

    @staticmethod
    def add_noise(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """x_t = (1 - sigma) x0 + sigma eps, in float32, returned in the noise's dtype."""
        return ((1 - sigma) * x0.float() + sigma * noise.float()).to(noise.dtype)
