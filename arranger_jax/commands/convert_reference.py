"""`arranger-jax convert-reference`: import one of the authors' released Keras checkpoints."""
HELP = "convert a reference best_model.hdf5 (salu133445/arranger models/...) into a run folder"


def add_arguments(parser):
    parser.add_argument("checkpoint", help="path to best_model.hdf5")
    parser.add_argument("--name", required=True,
                        help="the checkpoint's folder name, e.g. lstm/default_embedding_onsethint "
                        "(it fixes the architecture and inputs)")
    parser.add_argument("--dataset", default="bach", help="bach, musicnet, nes or lmd (sets the parts)")
    parser.add_argument("--out", required=True, help="run folder to write")
    parser.add_argument("--data", help="prepared dataset: also score its test split")
    parser.add_argument("--reference-entry-hints", action="store_true",
                        help="feed entry hints with the reference's channel shift (spec §9.1), "
                        "as the released hint models were trained")


def run(args):
    import json
    import os

    import jax

    from arranger_jax import convert, data, features as F, labels, metrics as M
    from arranger_jax.models import build_model, reference_config
    from arranger_jax.train import (ArrangerDataConfig, ArrangerExperiment, predict_pieces,
                                    save_params_as_run, table_key)

    k = labels.num_parts(args.dataset)
    config = reference_config(args.name, k)
    params, table_errors = convert.keras_to_flax(args.checkpoint, config)
    model = build_model(config)
    example = F.batch([F.piece_inputs(data.Piece("x", [0], [60], [24], [64], [0]), k)])[0]
    convert.check_shapes(params, jax.eval_shape(lambda: model.init(jax.random.key(0), example))["params"])
    for table, error in table_errors.items():
        print(f"fixed table {table}: max |reference - ours| = {error:.3g}")
    data_cfg = ArrangerDataConfig(dataset=args.dataset, path=args.data or "",
                                  reference_entry_hints=args.reference_entry_hints)
    exp = ArrangerExperiment(model=config, data=data_cfg)
    save_params_as_run(args.out, exp, params, args.dataset)
    print(f"wrote {args.out} ({config.name})")
    if args.data:
        test = data.load_dataset(args.data, ("test",))["test"]
        preds = predict_pieces(model, params, test, k, data_cfg, F.EVAL_LENGTH)
        scores = M.evaluate(preds, [p.label[:len(q)] for p, q in zip(test, preds)], k)
        result = {"model": config.name, "table_key": table_key(config), "dataset": args.dataset,
                  "source": os.path.abspath(args.checkpoint), "test": scores,
                  "reference_entry_hints": args.reference_entry_hints}
        with open(os.path.join(args.out, "test_results.json"), "w") as f:
            json.dump(result, f, indent=2)
        print(f"test accuracy {100 * scores['accuracy']:.2f} % on {scores['notes']} notes")
