"""A tiny CLIPSonic for a 2-core CPU: synthetic clips (coloured shapes with matching tones) and a
tiny *random* CLIP written on the fly, so it runs offline; the colour -> pitch mapping is learned
from pixels through that random CLIP (it is still a fixed, informative image feature).

    clipsonic-jax train --config configs/clipsonic/tiny.py
    clipsonic-jax generate --checkpoint runs/clipsonic/tiny --image some.png

1.024 s clips at 16 kHz -> 32 mel bands x 64 frames; a 2-level U-Net (16/32 channels, 182 k
parameters with the 64-d demo CLIP). 2000 steps take about 10 minutes on a 2-core CPU; the run
exports the parameters with the lowest eval loss (evaluated every 500 steps on the 9 held-out
clips); then
`clipsonic-jax evaluate --checkpoint runs/clipsonic/tiny --data UNSEEN` (UNSEEN from
`clipsonic-jax make-synthetic --out UNSEEN --clips 60 --seed 123`) gave pitch accuracy 0.850 on
60 unseen clips against chance 0.167 (DDIM 50 steps, guidance 3; 0.717 at guidance 1).
"""

from clipsonic_jax.config import Config, DataConfig, DiffusionConfig, SampleConfig, UNetConfig
from music_codecs.mel import MelConfig
from train_kit.config import MeshConfig, OptimConfig, TrainConfig

STEPS = 2000


def get_config():
    return Config(
        data=DataConfig(
            path="data/clipsonic/synthetic-tiny",
            clip_dir="data/clipsonic/tiny-clip",
            make_tiny_clip=True,
            synthetic_clips=48,
            batch_size=8,
            eval_every_nth=5,
        ),
        mel=MelConfig(n_mels=32, clip_samples=16384),
        unet=UNetConfig.tiny(),
        diffusion=DiffusionConfig(timesteps=1000, schedule="cosine", prediction="eps", cond_drop=0.1),
        sample=SampleConfig(sampler="ddim", steps=50, guidance=3.0, griffin_lim_iters=32),
        optim=OptimConfig(
            lr=2e-3, warmup_steps=20, decay="cosine", decay_steps=STEPS, final_lr_fraction=0.1, clip_norm=1.0
        ),
        train=TrainConfig(
            max_steps=STEPS,
            eval_every=500,
            ckpt_every=0,
            keep_last=1,
            keep_best_metric="eval_loss",
            log_every=25,
            seed=0,
            out_dir="runs/clipsonic/tiny",
            async_checkpoints=False,
        ),
        mesh=MeshConfig(),
    )
