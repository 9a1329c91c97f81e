"""mmt_jax's Python API on the shipped model: the docstring examples, and what they promise."""

import numpy as np
import pytest
from doc_examples import run_examples

import mmt_jax
from train_kit.run import RunError


@pytest.fixture(scope="module")
def model():
    return mmt_jax.load("music21")


def test_docstring_examples():
    import mmt_jax.api

    run_examples(mmt_jax.api, minimum=8)


def test_shipped_and_unknown_names(model):
    assert "music21" in mmt_jax.pretrained()
    assert model.num_parameters > 0 and model.card.startswith("# music21")
    with pytest.raises(RunError, match="shipped: .*music21"):
        mmt_jax.load("no-such-model")


def test_samples_depend_on_seed_and_index_only(model):
    # Batches of two throughout (one compiled loop): sample 2 comes from a second batch.
    a = model.generate(mode="instrument", instruments="piano,violin", num_samples=2, seed=3, max_events=24)
    b = model.generate(
        mode="instrument", instruments="piano,violin", num_samples=3, batch_size=2, seed=3, max_events=24
    )
    c = model.generate(mode="instrument", instruments="piano,violin", num_samples=2, seed=4, max_events=24)
    assert np.array_equal(a[1].info["codes"], b[1].info["codes"])
    assert not np.array_equal(a[0].info["codes"], c[0].info["codes"])
    assert [p.info["index"] for p in b] == [0, 1, 2]


def test_continuation_keeps_the_prompt_and_its_tempo(model, tmp_path):
    from mmt_jax import codec
    from music_codecs.musicxml_read import read_corpus_piece

    chorale = read_corpus_piece("bach/bwv66.6").replace(tempo_tick=[0], tempo_qpm=[72.0])
    piece = model.generate(mode="continuation", prompt=chorale, beats=4, num_samples=2, max_events=16)[0]
    codes = piece.info["codes"]
    prompt = codes[: piece.info["prompt_events"]]
    notes = prompt[prompt[:, 0] == codec.NOTE]
    assert len(notes) and notes[:, 1].max() <= 4  # beat codes 1..4: the first four beats
    assert piece.info["qpm"] == pytest.approx(72.0, rel=1e-4)  # MIDI stores microseconds per beat
    assert piece.table.tempo_qpm[0] == pytest.approx(72.0, rel=1e-4)


def test_the_command_line_takes_a_shipped_name(tmp_path, capsys):
    from mmt_jax import cli

    args = ["generate", "--checkpoint", "music21", "--num-samples", "1", "--batch-size", "1"]
    with pytest.raises(SystemExit) as e:
        cli.main([*args, "--max-events", "16", "--out", str(tmp_path)])
    assert e.value.code == 0, capsys.readouterr().err
    assert (tmp_path / "unconditional-000.mid").is_file()
    with pytest.raises(SystemExit) as e:  # a name that is neither a folder nor shipped
        cli.main(["generate", "--checkpoint", "no-such-model", "--out", str(tmp_path / "x")])
    assert e.value.code == 2 and "no such run folder" in capsys.readouterr().err
