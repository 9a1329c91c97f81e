"""CLIPSonic from Python: load a model and make sounds from images or text queries.

    >>> import clipsonic_jax
    >>> model = clipsonic_jax.load("synthetic-tiny")    # shipped, with its CLIP and prior; or a run folder
    >>> from clipsonic_jax.synthetic import draw_frame
    >>> frame = draw_frame((230, 30, 30), "circle", (32, 32), 14, 64, (20, 20, 20))   # a red circle
    >>> sounds = model.generate(image=[frame], seed=0)   # or image files, videos; CLIPSonic-IQ
    >>> sounds[0].mel.shape, sounds[0].mode
    ((32, 64), 'image')
    >>> spoken = model.generate(text=["a red shape"])    # CLIPSonic-PD: through the prior when loaded
    >>> spoken[0].mode
    'text+prior'
    >>> model.generate(text=["a red shape"], prior=False)[0].mode     # CLIPSonic-ZS
    'text'
    >>> import tempfile, pathlib, soundfile
    >>> files = sounds[0].save(pathlib.Path(tempfile.mkdtemp()) / "red")   # red.wav + red.png
    >>> sorted(files)
    ['png', 'wav']
    >>> audio, rate = soundfile.read(files["wav"])      # 1.024 s at 16 kHz, as the model was trained
    >>> rate, len(audio)
    (16000, 16384)
    >>> model.generate(text="a red shape", image=[frame])
    Traceback (most recent call last):
    music_codecs.errors.UserError: give image=... or text=..., not both

Each result is a `Sound`: `.mel` (the log-mel spectrogram [bands, frames]), `.to_wav(path)`
(Griffin-Lim), `.to_png(path)` (the spectrogram) and the query it answers. The audio model
hears CLIP image embeddings in training; a text query straight through CLIP (ZS) lands far from
them, which the diffusion prior (PD) corrects.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from music_codecs.errors import UserError

PACKAGE = "clipsonic_jax"


@dataclasses.dataclass
class Sound:
    """One generated clip: its log-mel, the query and how it was asked ("image", "text" or
    "text+prior"), and the model that made it (for the mel settings)."""

    mel: np.ndarray
    query: str
    mode: str
    model: object = dataclasses.field(repr=False)
    seed: int = 0

    @property
    def sample_rate(self) -> int:
        return int(self.model.cfg.mel.sample_rate)

    def save(self, stem) -> dict:
        """stem.wav and stem.png; {"wav": ..., "png": ...}."""
        from clipsonic_jax.generate import write_outputs

        wav, png = write_outputs(os.fspath(stem), self.mel, self.model, title=self.query)
        return {"wav": wav, "png": png}

    def _one(self, path, kind):
        with tempfile.TemporaryDirectory() as tmp:
            made = self.save(Path(tmp) / "sound")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(made[kind], path)
        return str(path)

    def to_wav(self, path) -> str:
        return self._one(path, "wav")

    def to_png(self, path) -> str:
        return self._one(path, "png")


class CLIPSonic:
    """A loaded CLIPSonic: `model` (clipsonic_jax.generate.Model), `clip`, `prior` (or None)."""

    def __init__(self, model, prior=None):
        self.model, self.prior = model, prior
        self.clip = model.clip()
        if prior is not None:
            prior.clip(self.clip.directory)  # the widths must match
        from train_kit.pretrained import model_card

        self.path = Path(model.path)
        self.card = model_card(self.path)

    def __repr__(self):
        return f"CLIPSonic({self.path.name}, prior {'yes' if self.prior else 'no'})"

    def generate(
        self, image=None, text=None, prior=True, seed=0, steps=None, guidance=None, prior_guidance=None
    ):
        """A list of Sounds, one per query: `image` (paths of images or videos, or uint8 RGB
        arrays; one or a list) or `text` (one string or a list). Text goes through the prior
        when one is loaded and `prior` is true (CLIPSonic-PD), else straight through CLIP (ZS)."""
        from clipsonic_jax.generate import read_image

        if (image is None) == (text is None):
            raise UserError("give image=... or text=..., not both")
        if image is not None:
            images = image if isinstance(image, (list, tuple)) else [image]
            arrays = [
                read_image(i) if isinstance(i, (str, Path)) else np.asarray(i, np.uint8) for i in images
            ]
            emb = self.clip.embed_images(arrays)
            queries = [str(i) if isinstance(i, (str, Path)) else f"image {k}" for k, i in enumerate(images)]
            mode = "image"
        else:
            queries = [text] if isinstance(text, str) else list(text)
            if prior and self.prior is not None:
                emb = self.prior.text_to_image(self.clip, queries, seed, prior_guidance)
                mode = "text+prior"
            else:
                emb, mode = self.clip.embed_texts(queries), "text"
        mels = self.model.generate(emb, seed=seed, steps=steps, guidance=guidance)
        return [Sound(m, q, mode, self.model, seed) for m, q in zip(mels, queries)]


def load(name_or_dir="synthetic-tiny", prior=None) -> CLIPSonic:
    """A CLIPSonic from a run folder, or by the name of a model shipped in
    clipsonic_jax/pretrained/ (`clipsonic_jax.pretrained()` lists them). `prior`: a prior run
    folder; a shipped model brings its own (`<model>/prior`), which prior=False leaves out."""
    from clipsonic_jax.load import load as load_run
    from clipsonic_jax.prior_load import load as load_prior
    from train_kit.pretrained import resolve

    path = resolve(name_or_dir, PACKAGE)
    if prior is None and (path / "prior" / "run.json").is_file():
        prior = path / "prior"
    return CLIPSonic(load_run(path), load_prior(prior) if prior else None)


def pretrained() -> list[str]:
    """The names of the models that ship with clipsonic_jax."""
    from train_kit.pretrained import available

    return available(PACKAGE)
