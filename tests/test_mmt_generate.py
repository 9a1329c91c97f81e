"""Prompts for the three modes and the `mmt-jax generate` job."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pretty_midi
import pytest
from flax import linen as nn

from mmt_jax import codec, prompts
from mmt_jax.cli import COMMANDS, DESCRIPTION
from mmt_jax.model import MMTConfig, MusicTransformer
from music_codecs.errors import UserError
from train_kit.cli import run_cli


def _midi(path):
    """Piano and violin, one note per beat for 12 beats at 120 qpm (two on beat 0)."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for program, pitch in ((0, 60), (40, 72)):
        inst = pretty_midi.Instrument(program=program)
        for beat in range(12 if program == 0 else 1):
            inst.notes.append(pretty_midi.Note(80, pitch + beat % 5, beat * 0.5, beat * 0.5 + 0.4))
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


def test_instrument_prompt_sorts_and_dedupes_names():
    rows = prompts.instrument_informed("violin,piano,Piano")
    np.testing.assert_array_equal(rows[:, 0], [codec.SOS, codec.INSTRUMENT, codec.INSTRUMENT, codec.SON])
    assert rows[1:3, 5].tolist() == [codec.INSTRUMENT_CODES["piano"], codec.INSTRUMENT_CODES["violin"]]
    assert np.all(rows[:, 1:5] == 0)


def test_unknown_instrument_lists_the_valid_ones():
    with pytest.raises(UserError, match="unknown instrument 'kazoo'.*piano.*violin"):
        prompts.build("instrument", instruments="piano,kazoo")


def test_continuation_prompt_keeps_the_first_beats(tmp_path):
    rows = prompts.build("continuation", prompt=str(_midi(tmp_path / "a.mid")), beats=4)
    types = rows[:, 0]
    assert types[0] == codec.SOS and codec.EOS not in types
    assert sorted(rows[types == codec.INSTRUMENT][:, 5].tolist()) == [
        codec.INSTRUMENT_CODES["piano"],
        codec.INSTRUMENT_CODES["violin"],
    ]
    notes = rows[types == codec.NOTE]
    assert len(notes) == 5 and notes[:, 1].max() == 4  # beats 0..3 -> codes 1..4
    longer = prompts.continuation_from_codes(
        codec.encode_notes(np.array([[0, 0, 60, 12, 0], [9, 0, 62, 12, 0]])), beats=40
    )
    assert longer[-1, 0] == codec.NOTE  # a short piece: everything but the EOS


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from mmt_jax.convert import save_converted

    config = MMTConfig.tiny(max_seq_len=32)
    params = MusicTransformer(config).init(jax.random.key(1), jnp.zeros((1, 8, 6), jnp.int32))
    params = jax.device_get(nn.meta.unbox(params)["params"])
    params["heads_0"]["bias"] = params["heads_0"]["bias"] + np.array([0, 0, 0, 3.0, -2.0], np.float32)
    return save_converted(tmp_path_factory.mktemp("ckpt"), params, config)


@pytest.mark.parametrize(
    "mode, extra",
    [
        ("unconditional", []),
        ("instrument", ["--instruments", "piano,cello"]),
        ("continuation", ["--beats", "2"]),
    ],
)
def test_generate_writes_every_file(checkpoint, tmp_path, mode, extra):
    if mode == "continuation":
        extra = extra + ["--prompt", str(_midi(tmp_path / "prompt.mid"))]
    out = tmp_path / "out"
    argv = [
        "generate",
        "--checkpoint",
        str(checkpoint),
        "--mode",
        mode,
        "--num-samples",
        "3",
        "--batch-size",
        "2",
        "--max-events",
        "12",
        "--out",
        str(out),
        "--seed",
        "4",
        "--renderer",
        "sine",
        "--strict",
    ] + extra
    assert run_cli("mmt-jax", DESCRIPTION, COMMANDS, argv) == 0
    runs = json.loads((out / "generate.json").read_text())["runs"]
    assert [r["index"] for r in runs[-1]["samples"]] == [0, 1, 2]
    for i in range(3):
        stem = out / f"{mode}-{i:03d}"
        for suffix in (".mid", ".wav", ".png", ".npy"):
            assert stem.with_suffix(suffix).stat().st_size > 0, (stem, suffix)
        codes = np.load(stem.with_suffix(".npy"))
        record = runs[-1]["samples"][i]
        assert codes[0, 0] == codec.SOS and record["events"] == len(codes)
        assert 0 < len(codes) - record["prompt_events"] <= 12
        table = codec.decode(codes)
        midi = pretty_midi.PrettyMIDI(str(stem.with_suffix(".mid")))
        assert sum(len(inst.notes) for inst in midi.instruments) == len(table)
        if mode == "instrument":
            declared = {codec.INSTRUMENT_CODES["piano"], codec.INSTRUMENT_CODES["cello"]}
            assert set(codes[codes[:, 0] == codec.NOTE][:, 5].tolist()) <= declared


def test_samples_do_not_depend_on_batch_size(checkpoint, tmp_path):
    def codes(batch, folder):
        argv = [
            "generate",
            "--checkpoint",
            str(checkpoint),
            "--num-samples",
            "2",
            "--batch-size",
            str(batch),
            "--max-events",
            "12",
            "--out",
            str(folder),
            "--renderer",
            "sine",
            "--strict",
        ]
        assert run_cli("mmt-jax", DESCRIPTION, COMMANDS, argv) == 0
        return [np.load(folder / f"unconditional-{i:03d}.npy") for i in range(2)]

    for a, b in zip(codes(2, tmp_path / "a"), codes(1, tmp_path / "b")):
        np.testing.assert_array_equal(a, b)


def test_missing_checkpoint_is_one_line_error(tmp_path, capsys):
    argv = ["generate", "--checkpoint", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]
    assert run_cli("mmt-jax", DESCRIPTION, COMMANDS, argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no such run folder" in err


def test_continuation_keeps_the_prompts_tempo_and_time_signature(checkpoint, tmp_path):
    pm = pretty_midi.PrettyMIDI(initial_tempo=70.0)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(3, 4, 0.0))
    piano = pretty_midi.Instrument(program=0)
    beat = 60 / 70
    piano.notes += [pretty_midi.Note(80, 60 + i % 7, i * beat, (i + 0.5) * beat) for i in range(12)]
    pm.instruments.append(piano)
    pm.write(str(tmp_path / "slow.mid"))
    common = [
        "--checkpoint",
        str(checkpoint),
        "--mode",
        "continuation",
        "--prompt",
        str(tmp_path / "slow.mid"),
    ]
    common += ["--num-samples", "1", "--max-events", "6", "--renderer", "sine", "--beats", "4"]
    for extra, qpm in (([], 70.0), (["--tempo", "90"], 90.0)):
        out = tmp_path / f"out{qpm:g}"
        assert (
            run_cli("mmt-jax", DESCRIPTION, COMMANDS, ["generate", *common, "--out", str(out), *extra]) == 0
        )
        back = pretty_midi.PrettyMIDI(str(out / "continuation-000.mid"))
        assert back.get_tempo_changes()[1][0] == pytest.approx(qpm, abs=0.01)
        signature = back.time_signature_changes[0]
        assert (signature.numerator, signature.denominator) == (3, 4)
        record = json.loads((out / "generate.json").read_text())["runs"][-1]["samples"][0]
        assert record["qpm"] == pytest.approx(qpm, abs=0.01)


def test_encode_reports_what_it_drops(tmp_path, capsys):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for program, is_drum, n in ((0, False, 5), (0, True, 3), (120, False, 2), (40, False, 4)):
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
        inst.notes += [pretty_midi.Note(80, 50 + i, i * 0.5, i * 0.5 + 0.25) for i in range(n)]
        pm.instruments.append(inst)
    pm.write(str(tmp_path / "mixed.mid"))
    argv = ["encode", str(tmp_path / "mixed.mid"), str(tmp_path / "codes.npy")]
    assert run_cli("mmt-jax", DESCRIPTION, COMMANDS, argv) == 0
    out = capsys.readouterr().out
    assert "14 notes read" in out and "3 drum notes" in out
    assert "2 notes of programs outside MMT's 64 instruments (program 120: 2)" in out
    codes = np.load(tmp_path / "codes.npy")
    assert (codes[:, 0] == codec.NOTE).sum() == 9
