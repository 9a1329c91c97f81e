"""`arranger-jax train`: train a part-separation model and score it on the test split."""

from train_kit.cli import add_config_arguments, config_from_args, train_exit_status

HELP = "train an Arranger model from a config file (configs/arranger/*.py) and test the best checkpoint"
SHORTCUTS = {
    "data": ("data.path", "dataset folder from `arranger-jax prepare` (default data/arranger/<dataset>)"),
    "out": ("train.out_dir", "run folder; an existing run resumes"),
}


def add_arguments(parser):
    add_config_arguments(parser, "configs/arranger/bach_lstm.py", SHORTCUTS)


def run(args):
    cfg = config_from_args(args, SHORTCUTS)  # checked before JAX loads: a bad value costs a second

    import json

    import jax

    from arranger_jax.config import table_key
    from arranger_jax.train import train

    result = train(cfg)
    if jax.process_index():
        return train_exit_status(result)
    cfg, metrics = result.config, result.metrics
    print(
        json.dumps(
            {
                "model": cfg.model.name,
                "table_key": table_key(cfg.model),
                "dataset": cfg.data.dataset,
                "status": result.status,
                "steps": result.step,
                "best_step": result.best_step,
                "best_eval_loss": result.best_metric,
                "run": result.run_dir,
            },
            indent=2,
        )
    )
    if "test_accuracy" in metrics:
        print(f"test accuracy {100 * metrics['test_accuracy']:.2f} % on {int(metrics['test_notes'])} notes")
    return train_exit_status(result)
