"""Generate audio from CLIP embeddings with a trained run: CLIPSonic-IQ (image query),
CLIPSonic-ZS (text query through CLIP's text encoder, replacing the image embedding) and
CLIPSonic-PD (the text embedding mapped into the image-embedding space by a diffusion prior).

    model = clipsonic_jax.load.load("runs/clipsonic/tiny")     # a Model (below)
    clip = model.clip()                                        # the CLIP folder the run trained with
    logmels = model.generate(clip.embed_texts(["a red circle"]), seed=0)   # [B, n_mels, frames]
    write_outputs("out/red", logmels[0], model)                # out/red.wav + out/red.png
    prior = clipsonic_jax.prior_load.load("runs/clipsonic/prior-tiny")          # PD
    logmels = model.generate(prior.text_to_image(clip, ["a red shape"]), seed=0)
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np

from clipsonic_jax.config import Config
from music_codecs.errors import UserError
from music_codecs.mel import MelStats, mel_to_wave


@dataclasses.dataclass
class Model:
    """A trained run: its config, parameters (NumPy) and what the export recorded beside them."""

    cfg: Config
    stats: MelStats
    params: dict
    clip_dir: str
    cond_mean: np.ndarray | None = None
    cond_scale: float = 1.0
    path: str = ""
    step: int | None = None

    def clip(self, clip_dir=None):
        from model_kit.clip_load import load_clip

        clip = load_clip(clip_dir or self.clip_dir)
        if clip.cfg.projection_dim != self.cfg.unet.cond_dim:
            raise UserError(
                f"CLIP at {clip.directory} gives {clip.cfg.projection_dim}-d embeddings; "
                f"the model was trained on {self.cfg.unet.cond_dim}-d"
            )
        return clip

    @functools.lru_cache(maxsize=8)
    def sampler(self, kind, steps):
        from clipsonic_jax.samplers import make_sampler
        from clipsonic_jax.unet import UNet, make_apply

        shape = (self.cfg.mel.n_mels, self.cfg.mel.clip_frames)
        return make_sampler(
            make_apply(UNet(self.cfg.unet)), self.cfg.diffusion, shape, steps, kind, clip_x0=1.0
        )

    def generate(self, embeddings, seed=0, steps=None, guidance=None, sampler=None):
        """Log-mels [B, n_mels, frames] for L2-normalised CLIP embeddings [B, D]."""
        import jax

        s = self.cfg.sample
        fn = self.sampler(sampler or s.sampler, int(steps or s.steps))
        cond = np.asarray(embeddings, np.float32)
        if self.cond_mean is not None:
            cond = (cond - self.cond_mean) / self.cond_scale
        x = fn(
            self.params,
            jax.numpy.asarray(cond, jax.numpy.float32),
            jax.random.key(seed),
            float(s.guidance if guidance is None else guidance),
        )
        return self.stats.denormalize(np.asarray(x))

    __hash__ = object.__hash__


def write_outputs(stem, logmel, run: Model, title="", vocoder=None):
    """<stem>.wav (Griffin-Lim, or `vocoder`: a clipsonic_jax.vocoder_use.Vocoder) and
    <stem>.png (the log-mel). Returns both paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile as sf

    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    if vocoder is None:
        wave = mel_to_wave(logmel, run.cfg.mel, n_iter=run.cfg.sample.griffin_lim_iters)
    else:
        wave = vocoder(logmel)
    from music_codecs.atomic import atomic_path

    with atomic_path(stem + ".wav") as tmp:  # whole files only, even on a full disk
        sf.write(tmp, wave, run.cfg.mel.sample_rate, subtype="PCM_16")
    fig, ax = plt.subplots(figsize=(6, 3))
    hop_s = run.cfg.mel.hop_length / run.cfg.mel.sample_rate
    im = ax.imshow(
        logmel, origin="lower", aspect="auto", extent=(0, logmel.shape[1] * hop_s, 0, logmel.shape[0])
    )
    ax.set_xlabel("time (s)"), ax.set_ylabel("mel band"), ax.set_title(title or os.path.basename(stem))
    fig.colorbar(im, ax=ax, label="log magnitude")
    fig.tight_layout()
    with atomic_path(stem + ".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return stem + ".wav", stem + ".png"


def read_image(path):
    """An image file as uint8 RGB; for a video file, its frame at the clip's centre time (the
    frame training pairs with the audio)."""
    from PIL import Image, UnidentifiedImageError

    from clipsonic_jax import data, video

    if str(path).lower().endswith(data.VIDEO_EXTS):
        return video.read_frames(path, [data.centre_time(video.probe(path).duration)])[0]
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError) as err:
        raise UserError(f"{path}: cannot read image: {err}") from err
