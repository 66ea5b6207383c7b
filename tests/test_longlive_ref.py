"""scripts/longlive_ref.py, the harness that times LongLive 1.0's own code as benchmark path `longlive`: its call
grouping on synthetic call sequences, and the whole harness on the CPU against a stand-in checkout with LongLive's
module layout and call protocol, its re-noising draws recorded for replay (the real code needs CUDA and
FlashAttention; tests/test_cuda.py runs it when LONGLIVE_SRC names a checkout)."""
import importlib.util
import textwrap

import pytest
import torch

from model.config import GenerationConfig, ModelConfig
from model.pipeline import PromptSegment
from scripts import longlive_ref as L


def test_calls_group_into_blocks_of_four_steps_and_the_context_pass():
    kinds = ["step"] * 5 + ["recache"] + ["step"] * 5 + ["step"] * 5
    assert L.blocks_from_calls(kinds, 5) == [(4, False), (10, True), (15, False)]
    assert L.blocks_from_calls([], 5) == []


@pytest.mark.parametrize("kinds, why", [(["step"] * 6, "end inside a block"),
                                        (["step", "recache"] + ["step"] * 4, "re-cache inside a block"),
                                        (["step"] * 5 + ["recache"], "end inside a block"),
                                        (["warm"], "unknown kind")])
def test_call_sequences_that_are_not_whole_blocks_are_refused(kinds, why):
    with pytest.raises(ValueError, match=why):
        L.blocks_from_calls(kinds, 5)


def test_source_check_names_what_is_missing(tmp_path):
    with pytest.raises(ValueError, match="set longlive_src="):
        L.check_source(None)
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "causal_inference.py").write_text("")
    with pytest.raises(ValueError, match="missing pipeline/interactive_causal_inference.py, utils/wan_wrapper.py"):
        L.check_source(tmp_path)


# A stand-in checkout: LongLive's module names and the calls the harness relies on (the wrapper builds its DiT by
# from_pretrained, the pipeline encodes every prompt first, then per block: a re-cache call with the keyword
# sink_recache_after_switch when a switch is due, the denoising steps, the clean-context call).
STAND_IN = {
    "wan/modules/attention.py": """
        FLASH_ATTN_3_AVAILABLE = False
        FLASH_ATTN_2_AVAILABLE = False
        """,
    "wan/modules/causal_model.py": """
        import torch

        class CausalWanModel(torch.nn.Module):
            def __init__(self, dim=8, in_dim=16, local_attn_size=-1, sink_size=0, **config):
                super().__init__()
                self.config = dict(config, dim=dim, in_dim=in_dim, local_attn_size=local_attn_size, sink_size=sink_size)
                self.scale = torch.nn.Parameter(torch.ones(()))
                self.loaded = None

            @classmethod
            def from_pretrained(cls, folder, **kwargs):
                raise FileNotFoundError(folder)

            def load_state_dict(self, state_dict, strict=True):
                self.loaded = (sorted(state_dict), strict)

            def forward(self, x, context):
                return x * self.scale + context.mean()
        """,
    "utils/wan_wrapper.py": """
        import torch
        from wan.modules.causal_model import CausalWanModel

        class WanDiffusionWrapper(torch.nn.Module):
            def __init__(self, model_name="Wan2.1-T2V-1.3B", timestep_shift=8.0, is_causal=False,
                         local_attn_size=-1, sink_size=0):
                super().__init__()
                self.model = CausalWanModel.from_pretrained(f"wan_models/{model_name}/",
                                                            local_attn_size=local_attn_size, sink_size=sink_size)

            def forward(self, noisy_image_or_video, conditional_dict, timestep, kv_cache=None,
                        crossattn_cache=None, current_start=None, sink_recache_after_switch=False):
                return None, self.model(noisy_image_or_video, conditional_dict["prompt_embeds"])
        """,
    "pipeline/causal_inference.py": "",
    "pipeline/interactive_causal_inference.py": """
        import torch

        class InteractiveCausalInferencePipeline(torch.nn.Module):
            def __init__(self, args, device, *, generator=None, text_encoder=None, vae=None):
                super().__init__()
                self.generator, self.text_encoder, self.vae, self.args = generator, text_encoder, vae, args
                self.steps = list(args.denoising_step_list)
                self.block = args.num_frame_per_block
                self.frame_seq_length, self.num_transformer_blocks = 1560, 30

            def inference(self, noise, *, text_prompts_list, switch_frame_indices, return_latents=False):
                conds = [self.text_encoder(text_prompts=p) for p in text_prompts_list]
                out, seg = torch.zeros_like(noise), 0
                for start in range(0, noise.shape[1], self.block):
                    if seg < len(switch_frame_indices) and start >= switch_frame_indices[seg]:
                        seg += 1
                        self.generator(noise[:, :start], conds[seg], None, sink_recache_after_switch=False)
                    x = noise[:, start:start + self.block]
                    for i, t in enumerate(self.steps):
                        _, x = self.generator(noisy_image_or_video=x, conditional_dict=conds[seg], timestep=t)
                        if i < len(self.steps) - 1:
                            x = x + torch.randn_like(x.flatten(0, 1)).unflatten(0, x.shape[:2])
                    out[:, start:start + self.block] = x
                    self.generator(noisy_image_or_video=x, conditional_dict=conds[seg], timestep=0)
                video = self.vae.decode_to_pixel(out)
                return (video, out) if return_latents else video
        """,
}


@pytest.fixture
def stand_in(tmp_path):
    for rel, text in STAND_IN.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(textwrap.dedent(text))
    L.forget_longlive()                 # a checkout an earlier test imported (test_cuda.py's)
    yield tmp_path
    L.forget_longlive()


def test_harness_drives_the_pipeline_and_times_every_block(stand_in):
    ll = L.import_longlive(stand_in)
    assert L.attention_backend(ll) == "sdpa"
    assert importlib.util.find_spec("ftfy") is not None     # real or the stand-in: diffusers' import asks for it
    gen = GenerationConfig()
    cfg = ModelConfig()                                    # 12 heads of 128, as LongLive's caches are shaped
    embeds = {f"segment{i}": torch.full((1, 4, 8), float(i)) for i in range(3)}
    weights = {"blocks.0.ffn.0.weight": torch.zeros(2, 2)}
    pipe = L.build_pipeline(ll, weights, cfg, gen, 6, embeds, torch.device("cpu"), torch.float32)
    assert pipe.frame_seq_length == 6 and pipe.num_transformer_blocks == cfg.num_layers
    assert pipe.generator.model.loaded == (["blocks.0.ffn.0.weight"], True)
    assert pipe.generator.model.config["local_attn_size"] == gen.local_attn_size
    with pytest.raises(FileNotFoundError):                 # the random-weight constructor is undone
        ll.model.CausalWanModel.from_pretrained("x")
    noise = torch.randn(1, 30, 16, 2, 3)
    draw, draws = torch.randn_like, []
    blocks, latents = L.run(pipe, noise, list(embeds), [15, 21], gen, seed=0, draws=draws)
    assert torch.randn_like is draw                       # the recording is undone
    assert len(draws) == 10 * 3 and all(d.shape == (3, 16, 2, 3) for d in draws)   # ReplayNoise's layout
    _, again = L.run(pipe, noise, list(embeds), [15, 21], gen, seed=0)
    torch.testing.assert_close(again, latents)                # the same seed draws the same: the recording is a copy
    assert [b["first_frame"] for b in blocks] == list(range(0, 30, 3))
    assert [b["block"] for b in blocks if b["switched"]] == [5, 7]
    assert all(b["ms"] > 0 for b in blocks)
    assert latents.shape == noise.shape
    assert "forward" not in vars(pipe.generator)          # the timing wrapper is removed after the run


def test_harness_refuses_models_whose_heads_do_not_fit_longlives_caches(stand_in):
    ll = L.import_longlive(stand_in)
    with pytest.raises(ValueError, match="2 heads of 128"):
        L.build_pipeline(ll, {}, ModelConfig(dim=256, num_heads=2), GenerationConfig(), 6, {}, torch.device("cpu"),
                         torch.float32)


def test_timing_longlive_needs_cuda(stand_in):
    with pytest.raises(ValueError, match="CUDA only"):
        L.time_longlive(stand_in, {}, ModelConfig(), GenerationConfig(), (2, 3),
                        [PromptSegment(0, torch.zeros(4, 8), "a")], 6, 0, torch.device("cpu"), torch.float32)
