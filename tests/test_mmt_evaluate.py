"""Table 3 evaluation: per-piece metrics after decoding and the 64-beat trim, the aggregation
with its 95 % CI, and the `mmt-jax evaluate` / `speed-test` commands on a tiny random model."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from scipy import stats

from mmt_jax import codec, evaluate
from mmt_jax.cli import COMMANDS, DESCRIPTION
from mmt_jax.model import MMTConfig, MusicTransformer
from train_kit.cli import run_cli

# Eight quarter notes C D E F C D E F on beats 0..7 (program 0 = piano).
TWO_BARS = np.array([[b, 0, (60, 62, 64, 65)[b % 4], 12, 0] for b in range(8)], np.int64)


def test_scores_of_a_hand_made_piece():
    s = evaluate.score(codec.encode_notes(TWO_BARS))
    assert s["pitch_class_entropy"] == pytest.approx(2.0)  # four classes, equally often
    assert s["scale_consistency"] == pytest.approx(1.0)
    # end 96 ticks -> 96 // 48 + 1 = 3 measures; the empty third differs in 4 of 48 positions
    assert s["groove_consistency"] == pytest.approx(1 - 4 / (48 * 2))


def test_notes_after_64_beats_are_trimmed_before_scoring():
    late = np.array([[70, 0, 61, 12, 0], [71, 0, 66, 12, 0]])  # C# and F# on beats 70, 71
    s = evaluate.score(codec.encode_notes(np.concatenate([TWO_BARS, late])))
    assert s["scale_consistency"] == pytest.approx(1.0)
    assert s["pitch_class_entropy"] == pytest.approx(2.0)
    # the late notes start after tick 768 and go: the piece ends at tick 96 again (3 measures)
    assert s["groove_consistency"] == pytest.approx(1 - 4 / (48 * 2))
    # a note sounding across the trim point is cut there: 768 // 48 + 1 = 17 measures
    held = np.array([[62, 0, 60, 96, 0]])  # C on beat 62, eight beats long
    s = evaluate.score(codec.encode_notes(np.concatenate([TWO_BARS, held])))
    # (uncut, it would end at tick 840: 18 measures); differing positions: measure 1 -> 2 (4),
    # 14 -> 15 and 15 -> 16 (the onset of beat 62 at tick 744, measure 15: 1 each)
    onsets_differ = 4 + 1 + 1
    assert s["groove_consistency"] == pytest.approx(1 - onsets_differ / (48 * 16))


def test_empty_piece_is_nan_and_counted():
    s = evaluate.score(codec.encode_notes(np.zeros((0, 5), np.int64)))
    assert all(math.isnan(v) for v in s.values())
    one_bar = TWO_BARS[:2]  # beats 0, 1: C D; end 24 -> one measure, groove NaN
    scores = [evaluate.score(codec.encode_notes(p)) for p in (TWO_BARS, one_bar)] + [s]
    agg = evaluate.aggregate(scores)
    assert agg["pitch_class_entropy"]["n"] == 2 and agg["pitch_class_entropy"]["nan"] == 1
    assert agg["pitch_class_entropy"]["mean"] == pytest.approx((2.0 + 1.0) / 2)
    assert agg["groove_consistency"]["n"] == 1 and agg["groove_consistency"]["nan"] == 2
    assert agg["groove_consistency"]["mean"] == pytest.approx(1 - 4 / 96)
    assert math.isnan(agg["groove_consistency"]["ci95"])  # one value: no interval


@pytest.mark.parametrize(
    "values",
    [
        [2.1, 2.5, 2.9],
        [0.91, 0.95, 0.97, 0.9, math.nan, 0.88],
        list(np.random.default_rng(0).normal(3, 0.4, 50)),
    ],
)
def test_ci_is_the_student_t_interval(values):
    agg = evaluate.aggregate([{m: v for m in evaluate.METRICS} for v in values])
    x = np.array([v for v in values if not math.isnan(v)])
    low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    for m in evaluate.METRICS:
        assert agg[m]["mean"] == pytest.approx((low + high) / 2)
        assert agg[m]["ci95"] == pytest.approx((high - low) / 2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random tiny checkpoint that writes notes, and a prepared folder of three test pieces."""
    from mmt_jax.convert import save_converted

    root = tmp_path_factory.mktemp("eval")
    config = MMTConfig.tiny(max_seq_len=32)
    params = jax.device_get(
        nn.meta.unbox(MusicTransformer(config).init(jax.random.key(1), jnp.zeros((1, 8, 6), jnp.int32)))[
            "params"
        ]
    )
    params["heads_0"]["bias"] = params["heads_0"]["bias"] + np.array([0, 0, 0, 3.0, -2.0], np.float32)
    ckpt = save_converted(root / "ckpt", params, config)
    data = root / "data"
    (data / "notes").mkdir(parents=True)
    for i in range(3):
        np.save(data / "notes" / f"p{i}.npy", TWO_BARS[: 4 * (1 + i % 2)])
    (data / "notes" / "bad.npy").write_bytes(b"not an array")
    (data / "test-names.txt").write_text("p0\nbad\np1\np2\n")
    return ckpt, data


def test_evaluate_command_writes_json_and_markdown(tiny, tmp_path):
    ckpt, data = tiny
    out = tmp_path / "out"
    argv = [
        "evaluate",
        "--checkpoint",
        str(ckpt),
        "--data",
        str(data),
        "--num-samples",
        "5",
        "--batch-size",
        "2",
        "--max-events",
        "40",
        "--out",
        str(out),
    ]
    assert run_cli("mmt-jax", DESCRIPTION, COMMANDS, argv) == 0
    result = json.loads((out / "evaluate.json").read_text())
    assert set(result["generated"]) == set(evaluate.METRICS)
    assert len(result["per_sample"]["generated"]) == 5
    assert 1 < result["generated_length"]["events_mean"] <= 41  # start-of-song + 40 at most
    assert result["settings"]["test_pieces"] == 3  # the corrupt piece is skipped and named
    assert [s.split(":")[0] for s in result["settings"]["skipped_test_pieces"]] == ["bad"]
    truth = result["ground_truth"]["pitch_class_entropy"]
    # test pieces hold 4, 8, 4 notes of C D E F: every one has entropy 2
    assert truth["n"] == 3 and truth["mean"] == pytest.approx(2.0) and truth["ci95"] == 0
    assert result["generated"]["pitch_class_entropy"]["n"] >= 1  # the biased model writes notes
    table = (out / "evaluate.md").read_text()
    assert "| ground truth (test) | 3 | 2.000 ± 0.000 |" in table
    assert "| generated | " in table and "scale consistency (%)" in table


def test_generated_scores_do_not_depend_on_batch_size(tiny, tmp_path):
    from mmt_jax.load import load
    from mmt_jax.sample import SamplerConfig

    params, cfg = load(tiny[0])
    config = cfg.model
    scfg = SamplerConfig(config, max_events=40)
    a = evaluate.generate_codes(params, scfg, 3, 2, seed=4, progress=False)
    b = evaluate.generate_codes(params, scfg, 3, 3, seed=4, progress=False)
    assert len(a) == len(b) == 3
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_speed_test_command_reports_notes_per_second(tiny, tmp_path):
    out = tmp_path / "speed.json"
    argv = [
        "speed-test",
        "--checkpoint",
        str(tiny[0]),
        "--num-samples",
        "2",
        "--max-events",
        "30",
        "--json",
        str(out),
    ]
    assert run_cli("mmt-jax", DESCRIPTION, COMMANDS, argv) == 0
    result = json.loads(out.read_text())
    assert result["samples"] == 2 and len(result["lengths_s"]) == 2
    assert result["notes_per_s"] == pytest.approx(result["notes"] / result["seconds"])
    assert result["mean_length_s"] == pytest.approx(np.mean(result["lengths_s"]), abs=1e-3)


def test_missing_test_names_is_one_line_error(tiny, tmp_path, capsys):
    argv = ["evaluate", "--checkpoint", str(tiny[0]), "--data", str(tmp_path), "--out", str(tmp_path / "o")]
    assert run_cli("mmt-jax", DESCRIPTION, COMMANDS, argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "names file not found" in err
