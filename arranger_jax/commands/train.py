"""`arranger-jax train`: train a part-separation model and score it on the test split."""
HELP = "train an Arranger model from a config file (configs/arranger/*.py) and test the best checkpoint"


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="experiment config file, e.g. configs/arranger/bach_lstm.py")
    parser.add_argument("--data", help="dataset folder (overrides data.path)")
    parser.add_argument("--out", help="run folder (overrides train.out_dir); an existing run resumes")
    parser.add_argument("overrides", nargs="*", help="config overrides such as train.max_steps=2000")


def run(args):
    import json

    from arranger_jax.train import run_training
    from train_kit.config import load_config

    overrides = list(args.overrides)
    if args.data:
        overrides.append(f"data.path={args.data}")
    if args.out:
        overrides.append(f"train.out_dir={args.out}")
    exp = load_config(args.config, overrides)
    out = run_training(exp)
    print(json.dumps({k: v for k, v in out.items() if k != "test"}, indent=2))
    if out["test"]:
        print(f"test accuracy {100 * out['test']['accuracy']:.2f} % on {out['test']['notes']} notes")
