"""MMT on Lakh MIDI (the reference's cleansed subset) with the paper's training settings.

    mmt-jax prepare --input LMD_FULL_DIR --out data/mmt/lmd \
        --splits REFERENCE_REPO/data/lmd/processed       # the authors' split lists
    mmt-jax train --config configs/mmt/lmd.py
"""

from configs.mmt import sod


def get_config():
    return sod.get_config(data_path="data/mmt/lmd", out_dir="runs/mmt/lmd")
