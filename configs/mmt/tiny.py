"""A tiny MMT for a 2-core CPU: a few minutes, and the validation loss falls.

    mmt-jax train --config configs/mmt/tiny.py          # prepares 60 music21 pieces first
    mmt-jax train --config configs/mmt/tiny.py --data data/mmt/music21 --out runs/mmt/tiny

172,662 parameters (dim 64, 2 layers, 4 heads), sequences capped at 128 events, the paper's
schedule shape scaled down (50 warm-up steps, linear decay to 0.1x at the last step).
"""

from mmt_jax.config import Config, DataConfig, LossConfig, MMTConfig, paper_optim
from train_kit.config import MeshConfig, TrainConfig

STEPS = 600


def get_config():
    return Config(
        model=MMTConfig.tiny(dropout=0.1),
        data=DataConfig(
            path="data/mmt/music21-tiny",
            batch_size=8,
            eval_max_batches=8,
            prepare_corpus="music21",
            prepare_limit=60,
            windows="events",  # random windows; end-of-song only at a piece's end
        ),
        loss=LossConfig(mask_padding=True),
        optim=paper_optim(lr=2e-3, warmup_steps=50, decay_steps=STEPS),
        train=TrainConfig(
            max_steps=STEPS,
            eval_every=100,
            ckpt_every=0,
            keep_last=1,
            keep_best_metric="eval_loss",
            patience=0,
            log_every=25,
            seed=0,
            out_dir="runs/mmt/tiny",
            async_checkpoints=False,
        ),
        mesh=MeshConfig(),
    )
