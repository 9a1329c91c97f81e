"""A tiny diffusion prior for a 2-core CPU, on the synthetic clips and the tiny random CLIP of
configs/clipsonic/tiny.py (same folders, same held-out clips), so CLIPSonic-PD runs offline:

    clipsonic-jax train-prior --config configs/clipsonic/prior_tiny.py
    clipsonic-jax generate --checkpoint runs/clipsonic/tiny --prior runs/clipsonic/prior-tiny \\
        --text "a red shape"

Captions are "a {label} shape" from the clips' labels. A 2-layer, 4-head prior (the CLIP width
64 and context 16 come from the CLIP folder), 1000 cosine-schedule steps, x0 prediction, 10%
text/image dropout, DDIM 64 steps, best of 2; see docs/results.md for what it gives.
"""

from clipsonic_jax.prior_config import PriorConfig, PriorDataConfig, PriorDiffusionConfig, PriorNetConfig
from train_kit.config import MeshConfig, OptimConfig, TrainConfig

STEPS = 1500


def get_config():
    return PriorConfig(
        data=PriorDataConfig(
            path="data/clipsonic/synthetic-tiny",
            template="a {label} shape",
            clip_dir="data/clipsonic/tiny-clip",
            make_tiny_clip=True,
            synthetic_clips=48,
            batch_size=8,  # the 9 held-out clips make one evaluation batch
            eval_every_nth=5,
        ),
        net=PriorNetConfig.tiny(),
        diffusion=PriorDiffusionConfig(timesteps=1000, sample_timesteps=64, cond_drop=0.1),
        optim=OptimConfig(
            lr=1e-3, warmup_steps=50, decay="cosine", decay_steps=STEPS, final_lr_fraction=0.1, clip_norm=1.0
        ),
        train=TrainConfig(
            max_steps=STEPS,
            eval_every=250,
            ckpt_every=0,
            keep_last=1,
            keep_best_metric="eval_loss",
            log_every=50,
            seed=0,
            out_dir="runs/clipsonic/prior-tiny",
            async_checkpoints=False,
        ),
        mesh=MeshConfig(),
    )
