"""MMT from Python: load a model (shipped or trained) and generate music in the paper's three modes.

    >>> import mmt_jax
    >>> model = mmt_jax.load("music21")     # shipped with the package; or a run folder's path
    >>> pieces = model.generate(mode="instrument", instruments="piano,violin,cello",
    ...                         num_samples=2, max_events=64, seed=0)
    >>> len(pieces), pieces[0].info["mode"]
    (2, 'instrument')
    >>> set(pieces[0].info["instruments"]) <= {"piano", "violin", "cello"}
    True
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> files = pieces[0].save(out / "trio")          # trio.mid, trio.wav, trio.png
    >>> sorted(files)
    ['midi', 'png', 'renderer', 'wav']
    >>> tail = model.generate(mode="continuation", prompt=out / "trio.mid", beats=4,
    ...                       num_samples=2, max_events=32)
    >>> tail[1].marks
    {4: 'prompt ends'}

Each piece is a `music_codecs.music.Music`: `.table` (the notes), `.to_midi(path)`,
`.to_wav(path)` (FluidSynth where installed, else sine tones; `.renderer` says which),
`.to_png(path)` (a piano roll coloured by instrument) and `.info` (mode, seed, index, event
codes, instruments). Sampling is the command line's: `sampling="default"` (notes only on the
declared instruments, beat advances bounded by the training data's largest) or "reference".
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from mmt_jax import codec
from music_codecs.errors import UserError

PACKAGE = "mmt_jax"


class MMT:
    """A loaded MMT: `config` (mmt_jax.config.Config), `params` (NumPy), `path`, `card` (the
    model card's text for a shipped model, else "")."""

    def __init__(self, params, config, path):
        from train_kit.pretrained import model_card

        self.params, self.config, self.path = params, config, Path(path)
        self.card = model_card(path)

    def __repr__(self):
        m = self.config.model
        return f"MMT({self.path.name}: dim {m.dim}, {m.depth} layers, {self.num_parameters:,} parameters)"

    @property
    def num_parameters(self) -> int:
        from train_kit.pretrained import count_parameters

        return count_parameters(self.params)

    def sampler_config(self, sampling="default", max_events=1024, **overrides):
        """The static sampler settings for this model (see mmt_jax.sample.SamplerConfig.preset)."""
        from mmt_jax.commands.generate import training_beat_advance
        from mmt_jax.sample import SamplerConfig

        if sampling == "default" and "max_beat_advance" not in overrides:
            advance = training_beat_advance(self.config, self.path)
            if advance is not None:
                overrides["max_beat_advance"] = advance
        try:
            return SamplerConfig.preset(sampling, self.config.model, max_events=int(max_events), **overrides)
        except ValueError as err:
            raise UserError(str(err)) from None

    def generate(
        self,
        mode="unconditional",
        instruments=None,
        prompt=None,
        beats=4,
        num_samples=1,
        seed=0,
        temperature=1.0,
        max_events=1024,
        sampling="default",
        batch_size=None,
        tempo=None,
        progress=False,
    ):
        """A list of `num_samples` Music pieces.

        mode: "unconditional"; "instrument" with `instruments` (names "piano,violin" or a list);
        "continuation" with `prompt` (a MIDI/MusicXML path, a NoteTable or a Music) continued
        after its first `beats` beats. Sample i depends on (seed, i) only. `tempo` (qpm) sets
        the written tempo; a continuation keeps its prompt's by default, others get 100."""
        from mmt_jax import prompts
        from mmt_jax.generate import sample_codes

        timing = {}
        with tempfile.TemporaryDirectory() as tmp:
            if mode == "continuation" and prompt is not None and not isinstance(prompt, (str, Path)):
                prompt = _as_midi(prompt, Path(tmp) / "prompt.mid")
            codes_in = prompts.build(mode, instruments=instruments, prompt=prompt, beats=beats, timing=timing)
        qpm = tempo if tempo is not None else timing.get("qpm") or codec.DECODE_QPM
        signature = timing.get("time_signature")
        # One compiled loop for every call: the buffer holds the most events ever asked for,
        # the length asked for now is a traced value, prompts are padded to 64-event multiples.
        cfg = self.sampler_config(sampling, max(int(max_events), 1024))
        pieces = []
        for i, codes in sample_codes(
            self.params,
            cfg,
            codes_in,
            num_samples,
            batch_size or num_samples,
            seed,
            temperature,
            int(max_events),
            progress,
            mode,
            64,
        ):
            table = codec.decode(codes, qpm, signature)
            notes = codes[codes[:, 0] == codec.NOTE]
            info = {
                "mode": mode,
                "seed": seed,
                "index": i,
                "codes": np.asarray(codes, np.int64),
                "prompt_events": int(len(codes_in)),
                "instruments": sorted({codec.INSTRUMENT_NAMES[c] for c in notes[:, 5]}),
                "qpm": float(qpm),
            }
            marks = {int(beats): "prompt ends"} if mode == "continuation" else None
            pieces.append(_music(table, f"MMT {mode}, sample {i} (seed {seed})", marks, info))
        return pieces


def _music(table, title, marks, info):
    from music_codecs.music import Music

    return Music(table, title, marks, info)


def _as_midi(piece, path):
    """A NoteTable or Music prompt written as MIDI, so it is read like a user's file."""
    from music_codecs.midi_write import write_midi

    return write_midi(getattr(piece, "table", piece), path)


def load(name_or_dir="music21", step=None) -> MMT:
    """An MMT from a run folder, or by the name of a model shipped in mmt_jax/pretrained/
    (`mmt_jax.pretrained()` lists them); `step` reads that training checkpoint instead."""
    from mmt_jax.load import load as load_run
    from train_kit.pretrained import resolve

    path = resolve(name_or_dir, PACKAGE)
    params, cfg = load_run(path, step=step)
    return MMT(params, cfg, path)


def pretrained() -> list[str]:
    """The names of the models that ship with mmt_jax."""
    from train_kit.pretrained import available

    return available(PACKAGE)
