"""MMT on the Symbolic Orchestral Database: the paper's setup (reference §2, §3).

    mmt-jax prepare --input SOD_DIR --out data/mmt/sod --sod-names \
        --splits REFERENCE_REPO/data/sod/processed       # the authors' split lists
    mmt-jax train --config configs/mmt/sod.py [--data data/mmt/sod] [--out runs/mmt/sod]

19,944,950 parameters; batch 8; Adam 5e-4 with (s+1)/5000 warm-up and linear decay to 0.1x at
100k steps; clip 1.0; at most 200k steps; validation every 1000 steps; stop on the 21st round
without improvement (the reference's counter > 20). Variants: `model.pos_emb=rotary` (RPE) or
`model.pos_emb=none` (NPE). Reference loss parity: `loss.mask_padding=False
data.pad_to_max=False data.pad_multiple=1`. Windows are the reference's (`data.windows=reference`:
long pieces cut to 256 beats / 1024 rows, each cut ending in end-of-song); `data.windows=events`
trains on random windows that carry end-of-song only at a piece's true end.
"""

from mmt_jax.config import Config, DataConfig, LossConfig, MMTConfig, paper_optim
from train_kit.config import MeshConfig, TrainConfig

DATA_PATH = "data/mmt/sod"


def get_config(data_path=DATA_PATH, out_dir="runs/mmt/sod"):
    return Config(
        model=MMTConfig(),
        data=DataConfig(path=data_path, batch_size=8, windows="reference"),
        loss=LossConfig(mask_padding=True),
        optim=paper_optim(),
        train=TrainConfig(
            max_steps=200_000,
            eval_every=1000,
            ckpt_every=1000,
            keep_last=3,
            keep_best_metric="eval_loss",
            best_mode="min",
            patience=21,
            log_every=100,
            seed=0,
            out_dir=out_dir,
        ),
        mesh=MeshConfig(),
    )
