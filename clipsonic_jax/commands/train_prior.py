"""`clipsonic-jax train-prior`: train the diffusion prior, CLIP text -> CLIP image embedding
(resumes from --out)."""

from train_kit.cli import add_config_arguments, config_from_args, train_exit_status

HELP = (
    "train a DALL-E 2 diffusion prior (CLIP text -> image embedding) on (caption, image) pairs, "
    "e.g. configs/clipsonic/prior_tiny.py; --data: videos (captions from labels.csv or "
    "--captions) or images with --captions CSV (file,caption)"
)
SHORTCUTS = {
    "data": ("data.path", "folder of videos or images"),
    "captions": ("data.captions", "CSV with columns file,caption (default: labels.csv + data.template)"),
    "clip": ("data.clip_dir", "Hugging Face CLIP folder (the one the audio model uses)"),
    "out": ("train.out_dir", "prior run folder; an existing run resumes"),
}


def add_arguments(parser):
    add_config_arguments(parser, "configs/clipsonic/prior_tiny.py", SHORTCUTS)


def run(args):
    cfg = config_from_args(args, SHORTCUTS)  # checked before JAX loads: a bad value costs a second

    from clipsonic_jax.prior_train import train

    result = train(cfg)
    print(f"{result.status} at step {result.step}")
    if result.run_dir:
        print(
            f"prior: {result.run_dir} (use: clipsonic-jax generate --checkpoint AUDIO_RUN "
            f"--prior {result.run_dir} --text ...)"
        )
    return train_exit_status(result)
