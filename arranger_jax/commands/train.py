"""`arranger-jax train`: train a part-separation model and score it on the test split."""
from train_kit.cli import add_config_arguments, config_from_args

HELP = "train an Arranger model from a config file (configs/arranger/*.py) and test the best checkpoint"
SHORTCUTS = {
    "data": ("data.path", "dataset folder"),
    "out": ("train.out_dir", "run folder; an existing run resumes"),
}


def add_arguments(parser):
    add_config_arguments(parser, "configs/arranger/bach_lstm.py", SHORTCUTS)


def run(args):
    import json

    from arranger_jax.train import run_training

    exp = config_from_args(args, SHORTCUTS)
    out = run_training(exp)
    print(json.dumps({k: v for k, v in out.items() if k != "test"}, indent=2))
    if out["test"]:
        print(f"test accuracy {100 * out['test']['accuracy']:.2f} % on {out['test']['notes']} notes")
