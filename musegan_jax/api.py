"""MuseGAN from Python: load a generator and sample multitrack phrases.

    >>> import musegan_jax
    >>> model = musegan_jax.load("bach-hybrid")      # shipped; or a run folder's path
    >>> pieces = model.generate(num_samples=2, phrases=1, seed=0)
    >>> len(pieces), pieces[0].table.track_names
    (2, ('Drums', 'Piano', 'Guitar', 'Bass', 'Strings'))
    >>> pieces[0].info["bars"]
    4
    >>> import tempfile, pathlib
    >>> files = pieces[0].save(pathlib.Path(tempfile.mkdtemp()) / "phrase")   # .mid .wav .png
    >>> sorted(files)
    ['midi', 'png', 'renderer', 'wav']

Each piece is a `music_codecs.music.Music` (one named track per family: drums, piano, guitar,
bass, strings); `phrases=N` chains N four-bar phrases; a conditional run takes the given track
as `accompany="piano.mid"`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from music_codecs.errors import UserError

PACKAGE = "musegan_jax"


class MuseGAN:
    """A loaded MuseGAN (`trained`: musegan_jax.load.Trained; `card`: a shipped model's card)."""

    def __init__(self, trained):
        from train_kit.pretrained import model_card

        self.trained, self.path, self.card = trained, Path(trained.path), model_card(trained.path)

    def __repr__(self):
        return f"MuseGAN({self.path.name}: {self.trained.config.model.kind})"

    def generate(self, num_samples=1, phrases=1, seed=0, qpm=120.0, accompany=None):
        """A list of `num_samples` Music pieces of `phrases` x 4 bars."""
        from musegan_jax.generate import condition_from_file, to_table
        from music_codecs.music import Music

        cfg = self.trained.config
        condition = None
        if cfg.model.conditional != (accompany is not None):
            need = "needs accompany=PATH" if cfg.model.conditional else "is not conditional; drop accompany"
            raise UserError(f"{self.path}: this model {need}")
        if accompany is not None:
            condition = np.repeat(condition_from_file(accompany, self.trained, phrases), num_samples, 0)
        rolls = self.trained.sampler().sample(num_samples, seed=seed, phrases=phrases, condition=condition)
        info = {"seed": seed, "bars": int(rolls.shape[1]), "kind": cfg.model.kind}
        return [
            Music(
                to_table(r, cfg.data.beat_resolution, qpm),
                f"MuseGAN sample {i} (seed {seed})",
                info={**info, "index": i},
            )
            for i, r in enumerate(rolls)
        ]


def load(name_or_dir="bach-hybrid") -> MuseGAN:
    """A MuseGAN from a run folder, or by the name of a model shipped in musegan_jax/pretrained/."""
    from musegan_jax.load import load as load_run
    from train_kit.pretrained import resolve

    return MuseGAN(load_run(resolve(name_or_dir, PACKAGE)))


def pretrained() -> list[str]:
    """The names of the models that ship with musegan_jax."""
    from train_kit.pretrained import available

    return available(PACKAGE)
