"""CLIPSonic at project-default scale (the paper's settings are unknown; reference clipsonic.md §1.5).

    clipsonic-jax train --config configs/clipsonic/default.py --data VIDEOS --clip CLIP_DIR

VIDEOS: a folder of videos (VGGSound, MUSIC, ...). CLIP_DIR: a Hugging Face CLIP folder
(config.json + model.safetensors, e.g. openai/clip-vit-large-patch14, 768-d, the space the DALL-E 2
priors use). 16 kHz, 80 mel bands x 256 frames (4.096 s), a 4-level U-Net 160/320/480/640
channels with attention at the two coarsest levels (138.7 M parameters; the third-party count
for CLIPSonic-IQ is ~143 M), cosine schedule, eps prediction,
10% condition dropout, DDIM 50 steps with guidance 3.
"""

from clipsonic_jax.config import Config, DataConfig, DiffusionConfig, SampleConfig, UNetConfig
from music_codecs.mel import MelConfig
from train_kit.config import MeshConfig, OptimConfig, TrainConfig

STEPS = 200_000


def get_config():
    return Config(
        data=DataConfig(
            path="data/clipsonic/videos",
            clip_dir="checkpoints/clip-vit-large-patch14",
            batch_size=64,
            eval_every_nth=50,
        ),
        mel=MelConfig(n_mels=80, clip_samples=65536),
        unet=UNetConfig(
            channels=160,
            channel_mults=(1, 2, 3, 4),
            res_blocks=2,
            attention_levels=(2, 3),
            heads=4,
            groups=32,
            cond_dim=768,
        ),
        diffusion=DiffusionConfig(timesteps=1000, schedule="cosine", prediction="eps", cond_drop=0.1),
        sample=SampleConfig(sampler="ddim", steps=50, guidance=3.0, griffin_lim_iters=32),
        optim=OptimConfig(
            name="adamw",
            lr=1e-4,
            weight_decay=0.01,
            warmup_steps=5000,
            decay="cosine",
            decay_steps=STEPS,
            final_lr_fraction=0.1,
            clip_norm=1.0,
        ),
        train=TrainConfig(
            max_steps=STEPS,
            eval_every=5000,
            ckpt_every=5000,
            keep_last=3,
            keep_best_metric="eval_loss",
            log_every=100,
            seed=0,
            out_dir="runs/clipsonic/default",
        ),
        mesh=MeshConfig(data=-1),
    )
