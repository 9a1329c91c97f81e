"""Automatic instrumentation: downmix, arranged output tracks, and note-by-note streaming."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arranger_jax import data, instrument
from arranger_jax import features as F
from arranger_jax.models import ArrangerConfig, build_model
from arranger_jax.streaming import StreamingLabeller, note_inputs
from music_codecs.note_table import NoteTable


def _table():
    # resolution 480: two piano tracks (one duplicate note across them) and a drum track
    onset = [0, 480, 0, 240, 0, 960]
    duration = [480, 480, 480, 240, 120, 120]
    pitch = [72, 74, 72, 48, 36, 38]
    return NoteTable(
        480,
        onset=onset,
        duration=duration,
        pitch=pitch,
        velocity=[80] * 6,
        program=[0, 0, 0, 0, 0, 0],
        is_drum=[0, 0, 0, 0, 1, 1],
        track=[0, 0, 1, 1, 2, 2],
        tempo_tick=[0],
        tempo_qpm=[100.0],
        time_signatures=[[0, 3, 4]],
    )


def test_downmix_merges_dedupes_sorts_and_keeps_drums_aside():
    piece, drums = instrument.downmix(_table())
    assert piece.time.tolist() == [0, 12, 24] and piece.pitch.tolist() == [72, 48, 74]
    assert piece.duration.tolist() == [24, 12, 24]
    assert len(drums) == 2 and drums.resolution == 24 and drums.onset.tolist() == [0, 48]


def test_arranged_table_has_every_part_track():
    table = _table()
    piece, drums = instrument.downmix(table)
    out = instrument.arranged_table(piece, [0, 3, 0], "bach", table, drums)
    assert out.track_names == ("Soprano", "Alto", "Tenor", "Bass", "Drums")
    melodic = out.select(~out.is_drum)
    assert melodic.track.tolist() == [0, 3, 0] and melodic.program.tolist() == [73, 71, 73]
    assert out.time_signatures.tolist() == [[0, 3, 4]] and out.resolution == 24
    assert out.is_drum.sum() == 2 and set(out.track[out.is_drum].tolist()) == {4}


def test_downmix_of_drums_only_is_a_user_error():
    from music_codecs.errors import UserError

    table = _table()
    with pytest.raises(UserError):
        instrument.downmix(table.select(table.is_drum))


def _stream(labeller, batch, n):
    state, out = labeller.start(), []
    for i in range(n):
        logits, state = labeller.step(state, note_inputs(batch, i))
        out.append(np.asarray(logits[0]))
    return np.stack(out)


@pytest.mark.parametrize("arch", ["lstm", "transformer"])
def test_streaming_equals_the_whole_sequence_model(arch):
    config = ArrangerConfig(
        num_parts=4,
        arch=arch,
        units=8,
        layers=2,
        heads=2,
        ffn_units=8,
        use_entry_hints=True,
        use_duration=True,
    )
    rng = np.random.default_rng(0)
    n = 12
    piece = data.Piece(
        "s",
        np.sort(rng.integers(0, 400, n)),
        rng.integers(40, 80, n),
        rng.integers(1, 40, n),
        np.full(n, 64),
        rng.integers(0, 4, n),
    )
    inputs, _ = F.piece_inputs(piece, 4)
    batch = {k: jnp.asarray(v)[None] for k, v in inputs.items()}
    model = build_model(config)
    params = model.init(jax.random.key(0), batch)["params"]
    whole = np.asarray(model.apply({"params": params}, batch)[0])
    np.testing.assert_allclose(_stream(StreamingLabeller(config, params), batch, n), whole, atol=1e-5)
    with pytest.raises(ValueError):
        StreamingLabeller(dataclasses.replace(config, online=False), params)
    if arch == "transformer":
        # A ring buffer of 4 notes: exact while it holds every earlier note, then each note
        # sees only the last 4 in each layer, so note 1 reaches notes 1..7 through 2 layers.
        small = _stream(StreamingLabeller(config, params, capacity=4), batch, n)
        np.testing.assert_allclose(small[:4], whole[:4], atol=1e-5)
        assert not np.allclose(small[4:], whole[4:], atol=1e-3)
        changed = dict(batch, pitch=batch["pitch"].at[0, 1].add(5))
        other = _stream(StreamingLabeller(config, params, capacity=4), changed, n)
        np.testing.assert_allclose(other[:1], small[:1], atol=1e-5)
        assert all(not np.allclose(a, b, atol=1e-6) for a, b in zip(other[1:8], small[1:8]))
        np.testing.assert_allclose(other[8:], small[8:], atol=1e-5)


def test_instrument_stream_option_labels_like_the_whole_model():
    from arranger_jax.commands.instrument import _stream
    from music_codecs.errors import UserError

    config = ArrangerConfig(num_parts=4, arch="transformer", units=8, layers=2, heads=2, ffn_units=8)
    rng = np.random.default_rng(1)
    n = 30
    piece = data.Piece(
        "s",
        np.sort(rng.integers(0, 400, n)),
        rng.integers(40, 80, n),
        rng.integers(1, 40, n),
        np.full(n, 64),
        np.zeros(n, np.int64),
    )
    batch = {k: jnp.asarray(v)[None] for k, v in F.piece_inputs(piece, 4)[0].items()}
    model = build_model(config)
    params = model.init(jax.random.key(3), batch)["params"]
    whole = np.asarray(model.apply({"params": params}, batch))[0, :, 1:].argmax(-1)
    parts = _stream(config, params, batch)
    np.testing.assert_array_equal(parts, whole)
    assert len(set(parts.tolist())) > 1  # random weights still spread notes over parts
    with pytest.raises(UserError, match="online"):
        _stream(dataclasses.replace(config, online=False), params, batch)
