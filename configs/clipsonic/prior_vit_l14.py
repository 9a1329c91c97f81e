"""The released LAION DALLE2-pytorch prior's configuration (reference §4.1), for CLIP ViT-L/14:
width 768, depth 12, 12 heads x 64, feed-forward x4 with normformer, rotary, 1000 learned time
embeddings, 77 text positions, dropout 0.05; cosine schedule, x0 prediction, 10% condition
dropout, 64 DDIM steps; AdamW lr 1.1e-4 (the earlier revision; the final one used 5e-6 on 500 M
LAION-2B pairs), weight decay 6.02e-2, batch 225 (rounded to 224 to divide over 8 devices).

    clipsonic-jax train-prior --config configs/clipsonic/prior_vit_l14.py \\
        --data IMAGES --captions captions.csv --clip checkpoints/clip-vit-large-patch14
or import the released weights instead of training:
    clipsonic-jax import-prior --dalle2 prior/best.pth --clip checkpoints/clip-vit-large-patch14 \\
        --out runs/clipsonic/prior-laion
"""

from clipsonic_jax.prior_config import PriorConfig, PriorDataConfig, PriorDiffusionConfig, PriorNetConfig
from train_kit.config import MeshConfig, OptimConfig, TrainConfig

STEPS = 1_000_000


def get_config():
    return PriorConfig(
        data=PriorDataConfig(
            path="data/clipsonic/images",
            captions="data/clipsonic/captions.csv",
            clip_dir="checkpoints/clip-vit-large-patch14",
            batch_size=224,
            eval_every_nth=100,
        ),
        net=PriorNetConfig.vit_l14(),
        diffusion=PriorDiffusionConfig(timesteps=1000, sample_timesteps=64, cond_drop=0.1),
        optim=OptimConfig(
            name="adamw",
            lr=1.1e-4,
            weight_decay=6.02e-2,
            warmup_steps=1000,
            decay="cosine",
            decay_steps=STEPS,
            final_lr_fraction=0.1,
            clip_norm=0.5,
        ),
        train=TrainConfig(
            max_steps=STEPS,
            eval_every=5000,
            ckpt_every=5000,
            keep_last=3,
            keep_best_metric="eval_loss",
            log_every=100,
            seed=0,
            out_dir="runs/clipsonic/prior-vit-l14",
        ),
        mesh=MeshConfig(data=-1),
    )
