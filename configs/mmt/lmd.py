"""MMT on Lakh MIDI (the reference's cleansed subset) with the paper's training settings.

    mmt-jax prepare --input LMD_FULL_DIR --output data/lmd/processed \
        --splits REFERENCE_REPO/data/lmd/processed       # the authors' split lists
    mmt-jax train --config configs/mmt/lmd.py
"""
from configs.mmt import sod


def get_config():
    return sod.get_config(data_dir="data/lmd/processed", out_dir="runs/mmt/lmd")
