"""The MMT event codec, rule by rule (reference mmt.md §1.1-1.7), and round trips."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmt_jax import codec
from music_codecs.errors import UserError


def note(beat=0, position=0, pitch=60, duration=12, program=0):
    return [beat, position, pitch, duration, program]


def test_vocab_sizes_match_the_paper_model():
    assert codec.vocab_sizes() == [5, 257, 13, 129, 33, 65]
    assert codec.vocab_sizes(1024)[1] == 1025
    assert codec.FIELDS == ("type", "beat", "position", "pitch", "duration", "instrument")


# (input ticks, code) at every boundary of the reference table (reference §1.2), ties going to the smaller value.
DURATION_CASES = [
    (0, 1),
    (1, 1),
    (2, 2),
    (11, 11),
    (12, 12),
    (13, 12),
    (14, 13),
    (15, 13),
    (16, 14),
    (17, 14),
    (18, 15),
    (19, 15),
    (20, 16),
    (21, 17),
    (22, 17),
    (23, 18),
    (27, 18),
    (28, 19),
    (33, 19),
    (34, 20),
    (38, 20),
    (39, 21),
    (41, 21),
    (42, 22),
    (45, 22),
    (46, 23),
    (54, 23),
    (55, 24),
    (66, 24),
    (67, 25),
    (78, 25),
    (79, 26),
    (90, 26),
    (91, 27),
    (108, 27),
    (109, 28),
    (132, 28),
    (133, 29),
    (156, 29),
    (157, 30),
    (180, 30),
    (181, 31),
    (288, 31),
    (289, 32),
    (384, 32),
    (385, 32),
    (10_000, 32),
]


@pytest.mark.parametrize("ticks,code", DURATION_CASES)
def test_duration_code_boundaries(ticks, code):
    assert codec.duration_code(ticks) == code


def test_duration_table_is_the_32_known_values():
    assert len(codec.KNOWN_DURATIONS) == 32
    assert codec.KNOWN_DURATIONS[0] == 1 and codec.KNOWN_DURATIONS[-1] == 384
    # each known value encodes to its own code
    assert np.array_equal(codec.duration_code(codec.KNOWN_DURATIONS), np.arange(1, 33))


def test_instrument_tables():
    assert len(codec.INSTRUMENT_NAMES) == 65 and codec.INSTRUMENT_NAMES[0] is None
    assert codec.DROPPED_PROGRAMS == tuple(range(76, 79)) + tuple(range(96, 104)) + tuple(
        range(112, 117)
    ) + tuple(range(120, 128))
    assert codec.INSTRUMENT_NAMES[31] == "strings" and codec.INSTRUMENT_PROGRAMS[31] == 49
    assert codec.PROGRAM_TO_INSTRUMENT[110] == codec.instrument_code("violin") == 25
    assert codec.PROGRAM_TO_INSTRUMENT[48] == 31 and codec.PROGRAM_TO_INSTRUMENT[44] == 31
    assert codec.INSTRUMENT_NAMES[64] == "synth-drums" and codec.PROGRAM_TO_INSTRUMENT[119] == 64
    assert codec.instrument_codes("piano, Violin,cello") == [1, 25, 27]
    with pytest.raises(UserError, match="unknown instrument"):
        codec.instrument_code("kazoo")


def test_layout_and_sorted_instrument_rows():
    notes = [note(0, 0, 60, 12, 42), note(0, 3, 64, 6, 0), note(2, 11, 67, 384, 40)]
    codes = codec.encode_notes(notes)
    expected = [
        [0, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 1],  # piano (program 0)
        [1, 0, 0, 0, 0, 25],  # violin (40)
        [1, 0, 0, 0, 0, 27],  # cello (42)
        [2, 0, 0, 0, 0, 0],
        [3, 1, 1, 61, 12, 27],
        [3, 1, 4, 65, 6, 1],
        [3, 3, 12, 68, 32, 25],
        [4, 0, 0, 0, 0, 0],
    ]
    assert codes.tolist() == expected


def test_dropped_programs_are_skipped_everywhere():
    codes = codec.encode_notes([note(program=80), note(pitch=62, program=100), note(pitch=64, program=127)])
    assert codes[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert codes[1, 5] == codec.instrument_code("lead")
    assert codes[3].tolist() == [3, 1, 1, 61, 12, 54]


def test_two_programs_of_one_instrument_give_one_instrument_row_and_two_note_rows():
    # programs 0 and 1 are both piano: ordering/dedup is by program, so both notes remain
    codes = codec.encode_notes([note(program=0), note(program=1)])
    assert codes[:, 0].tolist() == [0, 1, 2, 3, 3, 4]
    assert codes[3].tolist() == codes[4].tolist() == [3, 1, 1, 61, 12, 1]


def test_max_beat_boundary():
    codes = codec.encode_notes([note(beat=1024), note(beat=1025, program=40)])
    rows = codes[codes[:, 0] == codec.NOTE]
    assert rows[:, 1].tolist() == [1025]  # beat 1024 kept, 1025 skipped
    # the skipped note's instrument is still listed, as in the reference
    assert codes[codes[:, 0] == codec.INSTRUMENT, 5].tolist() == [1, 25]
    assert len(codec.encode_notes([note(beat=5)], max_beat=4)) == 4  # SOS, inst, SON, EOS


def test_empty_notes():
    assert codec.encode_notes(np.zeros((0, 5), int)).tolist() == [[0] * 6, [2] + [0] * 5, [4] + [0] * 5]
    assert codec.decode_notes(codec.encode_notes([])).shape == (0, 5)


def test_out_of_range_notes_are_refused():
    for bad in (note(position=12), note(pitch=128), note(beat=-1), note(duration=-1), note(program=128)):
        with pytest.raises(ValueError):
            codec.encode_notes([bad])


def test_decode_stops_at_first_eos_and_ignores_instrument_rows():
    codes = [
        [0, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 27],
        [2, 0, 0, 0, 0, 0],
        [3, 5, 2, 61, 18, 31],
        [4, 0, 0, 0, 0, 0],
        [3, 9, 9, 9, 9, 9],
        [7, 0, 0, 0, 0, 0],
    ]
    assert codec.decode_notes(codes).tolist() == [[4, 1, 60, 24, 49]]


def test_decode_refuses_unknown_type_and_bad_note_codes():
    with pytest.raises(ValueError, match="unknown event type 5"):
        codec.decode_notes([[0] * 6, [5, 0, 0, 0, 0, 0], [4, 0, 0, 0, 0, 0]])
    with pytest.raises(ValueError, match="duration"):
        codec.decode_notes([[3, 1, 1, 1, 33, 1]])
    with pytest.raises(ValueError, match="instrument"):
        codec.decode_notes([[3, 1, 1, 1, 1, 0]])


def test_decode_to_table_at_100_qpm_one_track_per_program():
    notes = [note(1, 6, 60, 24, 42), note(0, 0, 72, 12, 0), note(0, 0, 48, 1, 42)]
    table = codec.notes_to_table(notes)
    assert table.resolution == 12
    assert table.tempo_tick.tolist() == [0] and table.tempo_qpm.tolist() == [100.0]
    assert table.program.tolist() == [0, 42, 42] and table.track.tolist() == [0, 1, 1]
    assert table.onset.tolist() == [0, 18, 0]  # code order kept within a track
    assert table.velocity.tolist() == [64] * 3 and not table.is_drum.any()
    assert table.track_names == ("piano", "cello")


def test_encoding_dictionary_matches_the_reference_keys_and_sizes():
    enc = codec.get_encoding()
    assert enc["resolution"] == 12 and enc["max_beat"] == 1024 and enc["max_duration"] == 384
    assert enc["n_tokens"] == [5, 1026, 13, 129, 33, 65]
    assert enc["duration_code_map"][13] == 12 and enc["duration_code_map"][None] == 0
    assert enc["program_instrument_map"][76] is None
    assert enc["instrument_program_map"]["strings"] == 49
    assert enc["code_instrument_map"][0] is None


# Notes the format can hold exactly: known durations, kept programs that are an instrument's
# own decoding program, beats up to MAX_BEAT.
representable = st.tuples(
    st.integers(0, codec.MAX_BEAT),
    st.integers(0, 11),
    st.integers(0, 127),
    st.sampled_from(codec.KNOWN_DURATIONS.tolist()),
    st.sampled_from(codec.INSTRUMENT_PROGRAMS[1:].tolist()),
)


@given(st.lists(representable, max_size=40))
def test_round_trip_of_representable_notes(rows):
    notes = np.array(sorted(set(rows)), np.int64).reshape(-1, 5)
    codes = codec.encode_notes(notes)
    assert np.array_equal(codec.decode_notes(codes), notes)
    assert np.array_equal(codec.encode_notes(codec.decode_notes(codes)), codes)


any_note = st.tuples(
    st.integers(0, 2000), st.integers(0, 11), st.integers(0, 127), st.integers(0, 1000), st.integers(0, 127)
)


@given(st.lists(any_note, max_size=40))
def test_encode_invariants_for_any_notes(rows):
    notes = np.array(sorted(set(rows)), np.int64).reshape(-1, 5)
    codes = codec.encode_notes(notes)
    n_inst = int((codes[:, 0] == codec.INSTRUMENT).sum())
    assert codes[0, 0] == codec.SOS and codes[n_inst + 1, 0] == codec.SON
    assert codes[-1, 0] == codec.EOS
    inst = codes[1 : n_inst + 1, 5]
    assert np.all(np.diff(inst) > 0)
    decoded = codec.decode_notes(codes)
    kept = notes[(notes[:, 0] <= codec.MAX_BEAT) & (codec.PROGRAM_TO_INSTRUMENT[notes[:, 4]] > 0)]
    assert np.array_equal(decoded[:, :3], kept[:, :3])
    # decoding maps each program to its instrument's program, each duration to the nearest
    assert np.array_equal(codec.PROGRAM_TO_INSTRUMENT[decoded[:, 4]], codec.PROGRAM_TO_INSTRUMENT[kept[:, 4]])
    gap = np.abs(decoded[:, 3] - np.minimum(kept[:, 3], 384))
    assert np.all(
        gap <= np.abs(codec.KNOWN_DURATIONS[None, :] - np.minimum(kept[:, 3], 384)[:, None]).min(axis=1)
    )


def test_encode_decode_commands_write_a_100_qpm_midi(tmp_path, capsys):
    from mmt_jax import cli
    from music_codecs.read import read_music
    from train_kit.cli import run_cli

    notes = np.array([note(0, 0, 60, 12, 0), note(0, 6, 67, 6, 40), note(3, 0, 64, 48, 42)])
    np.save(tmp_path / "notes.npy", notes)
    assert (
        run_cli(
            "mmt-jax", "", cli.COMMANDS, ["encode", str(tmp_path / "notes.npy"), str(tmp_path / "codes.npy")]
        )
        == 0
    )
    codes = np.load(tmp_path / "codes.npy")
    assert np.array_equal(codes, codec.encode_notes(notes))
    assert (
        run_cli(
            "mmt-jax", "", cli.COMMANDS, ["decode", str(tmp_path / "codes.npy"), str(tmp_path / "out.mid")]
        )
        == 0
    )
    table = read_music(tmp_path / "out.mid")
    assert table.tempo_qpm.round(6).tolist() == [100.0]
    assert table.resolution == 12 and sorted(table.program.tolist()) == [0, 40, 42]
    got = sorted(zip(table.onset.tolist(), table.pitch.tolist(), table.duration.tolist()))
    assert got == [(0, 60, 12), (6, 67, 6), (36, 64, 48)]
    # the MIDI file encodes back to the same codes (first beat already 0)
    assert (
        run_cli(
            "mmt-jax", "", cli.COMMANDS, ["encode", str(tmp_path / "out.mid"), str(tmp_path / "again.csv")]
        )
        == 0
    )
    again = np.loadtxt(tmp_path / "again.csv", dtype=np.int64, delimiter=",", skiprows=1)
    assert np.array_equal(again, codes)
    np.save(tmp_path / "bad.npy", np.array([[0] * 6, [9, 0, 0, 0, 0, 0]]))
    assert (
        run_cli("mmt-jax", "", cli.COMMANDS, ["decode", str(tmp_path / "bad.npy"), str(tmp_path / "x.mid")])
        == 2
    )
    assert "unknown event type 9" in capsys.readouterr().err
