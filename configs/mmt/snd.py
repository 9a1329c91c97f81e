"""MMT on the SymphonyNet dataset with the paper's training settings.

    mmt-jax prepare --input SYMPHONYNET_DIR --out data/mmt/snd \
        --splits REFERENCE_REPO/data/snd/processed       # the authors' split lists
    mmt-jax train --config configs/mmt/snd.py
"""

from configs.mmt import sod


def get_config():
    return sod.get_config(data_path="data/mmt/snd", out_dir="runs/mmt/snd")
