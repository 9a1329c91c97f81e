"""musegan_jax's Python API on the shipped model: the docstring examples, and what they promise."""

import numpy as np
import pytest
from doc_examples import run_examples

import musegan_jax
from music_codecs.errors import UserError


def test_docstring_examples():
    import musegan_jax.api

    run_examples(musegan_jax.api, minimum=5)


def test_phrases_chain_and_seeds_repeat():
    model = musegan_jax.load("bach-hybrid")
    one = model.generate(num_samples=2, seed=5)[0]
    two = model.generate(num_samples=2, phrases=2, seed=5)[0]
    again = model.generate(num_samples=2, seed=5)[0]
    assert two.info["bars"] == 2 * one.info["bars"]
    assert one.table.equals(again.table)
    bar_ticks = 4 * one.table.resolution
    assert one.table.onset.max() < one.info["bars"] * bar_ticks  # every note starts within its bars
    assert np.all(one.table.pitch >= 24) and np.all(one.table.pitch < 24 + 84)
    with pytest.raises(UserError, match="not conditional"):
        model.generate(accompany="x.mid")
