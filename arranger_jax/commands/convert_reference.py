"""`arranger-jax convert-reference`: import one of the authors' released Keras checkpoints."""

import argparse

HELP = "convert a reference best_model.hdf5 (salu133445/arranger models/...) into a run folder"


def add_arguments(parser):
    parser.add_argument("--checkpoint", metavar="HDF5", help="the reference's best_model.hdf5 (required)")
    parser.add_argument("legacy_checkpoint", nargs="?", help=argparse.SUPPRESS)  # the old positional
    parser.add_argument(
        "--name",
        required=True,
        help="the checkpoint's folder name, e.g. lstm/default_embedding_onsethint "
        "(it fixes the architecture and inputs)",
    )
    parser.add_argument("--dataset", default="bach", help="bach, musicnet, nes or lmd (sets the parts)")
    parser.add_argument("--out", required=True, help="run folder to write")
    parser.add_argument("--data", help="prepared dataset: also score its test split (into run.json)")
    parser.add_argument(
        "--reference-entry-hints",
        action="store_true",
        help="feed entry hints with the reference's channel shift (reference §9.1), "
        "as the released hint models were trained",
    )


def run(args):
    import os

    from arranger_jax import convert, data, labels
    from arranger_jax.config import Config, DataConfig, reference_config
    from arranger_jax.load import SYSTEM, abstract_params
    from music_codecs.errors import UserError
    from train_kit.run import save_run

    checkpoint = args.checkpoint or args.legacy_checkpoint
    if not checkpoint:
        raise UserError("convert-reference needs --checkpoint best_model.hdf5")
    from train_kit import paths

    paths.input_file(checkpoint, "--checkpoint")
    if args.data:
        paths.input_dir(args.data, "--data")
    paths.output_dir(args.out, "--out", inputs=[checkpoint, args.data])
    k = labels.num_parts(args.dataset)
    model_cfg = reference_config(args.name, k)
    params, table_errors = convert.keras_to_flax(checkpoint, model_cfg)
    convert.check_shapes(params, abstract_params(model_cfg))
    for table, error in table_errors.items():
        print(f"fixed table {table}: max |reference - ours| = {error:.3g}")
    cfg = Config(
        model=model_cfg,
        data=DataConfig(
            dataset=args.dataset, path=args.data or "", reference_entry_hints=args.reference_entry_hints
        ),
    )
    metrics = {}
    if args.data:
        from arranger_jax.models import build_model
        from arranger_jax.predict import score_test

        test = data.load_dataset(args.data, ("test",))["test"]
        metrics = score_test(build_model(model_cfg), params, test, k, cfg.data)
    save_run(
        args.out,
        system=SYSTEM,
        config=cfg,
        params=params,
        step=None,
        metrics=metrics,
        source=os.path.abspath(checkpoint),
        fixed_table_errors=table_errors,
    )
    print(f"wrote {args.out} ({model_cfg.name})")
    if metrics:
        print(f"test accuracy {100 * metrics['test_accuracy']:.2f} % on {metrics['test_notes']} notes")
