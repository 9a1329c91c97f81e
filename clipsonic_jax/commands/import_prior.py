"""`clipsonic-jax import-prior`: a released DALLE2-pytorch prior as a prior run folder."""

HELP = (
    "import a DALLE2-pytorch prior checkpoint (e.g. laion/DALLE2-PyTorch prior/best.pth; .pth, "
    ".safetensors or .npz) as a run folder for generate --prior; every missing, extra or "
    "mis-shaped key is named"
)


def add_arguments(parser):
    parser.add_argument(
        "--dalle2", required=True, help="the prior checkpoint (a trainer file's ema_model is used)"
    )
    parser.add_argument(
        "--clip", required=True, help="the CLIP folder the prior works in (ViT-L/14 for LAION's)"
    )
    parser.add_argument("--out", required=True, help="run folder to write (must not exist)")
    parser.add_argument(
        "--config",
        default="configs/clipsonic/prior_vit_l14.py",
        help="config for the diffusion settings (default configs/clipsonic/prior_vit_l14.py); "
        "the network size is read from the checkpoint",
    )


def run(args):
    import dataclasses
    import os

    from clipsonic_jax.prior_import import import_dalle2_prior, infer_net_config, read_state_dict
    from music_codecs.errors import UserError
    from train_kit import paths
    from train_kit.config import load_config
    from train_kit.run import save_run

    paths.input_file(args.dalle2, "--dalle2")
    paths.input_dir(args.clip, "--clip")
    paths.input_file(args.config, "--config")
    if os.path.exists(args.out):
        raise UserError(f"{args.out} exists; give a new folder (imports never overwrite)")
    paths.output_dir(args.out, "--out")
    cfg = load_config(args.config, [])
    sd = read_state_dict(args.dalle2)
    net = infer_net_config(
        sd,
        attn_dropout=cfg.net.attn_dropout,
        ff_dropout=cfg.net.ff_dropout,
        rotary_emb=cfg.net.rotary_emb,
    )
    params = import_dalle2_prior(sd, net)
    cfg = dataclasses.replace(cfg, net=net, data=dataclasses.replace(cfg.data, clip_dir=args.clip))
    save_run(
        args.out,
        system="clipsonic-prior",
        config=cfg,
        params=params,
        clip_dir=os.path.abspath(args.clip),
        kind="dalle2",
        imported_from=os.path.abspath(args.dalle2),
    )
    n = sum(v.size for v in __import__("jax").tree.leaves(params))
    print(f"imported {n:,} parameters ({net.depth} layers, width {net.dim}) into {args.out}")
