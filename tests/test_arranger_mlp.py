"""The MLP baseline (reference §7.4): features by hand, decoding, and a tiny fit."""

import numpy as np

from arranger_jax import data
from arranger_jax import mlp_baseline as MLP

K = 2


def _piece():
    time = [0, 0, 0, 24, 48]
    pitch = [48, 60, 67, 62, 50]
    duration = [24, 30, 6, 24, 24]
    return data.Piece("hand", time, pitch, duration, [64] * 5, [1, 0, 0, 0, 1])


def test_static_features_by_hand():
    p = _piece()
    f = MLP.static_features(p.time, p.pitch, p.duration)
    assert f[:, 2].tolist() == [0, 0, 1, 0, 0]  # ornament: duration <= 6
    assert f[:, 3].tolist() == [0, 1, 2, 0, 0]  # index in the onset group
    assert f[:, 4].tolist() == [0, 12, 7, 0, 0]  # distance to the next lower note
    assert f[:, 5].tolist() == [12, 7, 0, 0, 0]  # distance to the next higher note
    assert f[:, 6].tolist() == [3, 3, 3, 1, 1]
    assert f[:, 8].tolist() == [1, 1, 1, 1, 0]  # size of the next onset group
    assert f[:, 7].tolist() == [0, 6, 6, 0, 0]  # the reference's "metric position": duration % 24
    fixed = MLP.static_features(p.time, p.pitch, [5, 5, 5, 5, 5], reference_metric_position=False)
    assert fixed[:, 7].tolist() == [0, 0, 0, 0, 0]


def test_history_features_by_hand():
    f = MLP.note_features(_piece(), K)
    hist = f[:, MLP.NUM_STATIC :].reshape(5, K, 4)
    assert (hist[0] == -1).all()  # nothing has sounded yet
    assert hist[1, 0].tolist() == [-1] * 4 and hist[1, 1].tolist() == [12, 0, 24, 1]
    # note 3 (t=24, pitch 62): part 0 last = 67 (t=0, ends 6); part 1 last = 48 (ends 24)
    assert hist[3, 0].tolist() == [5, 24, 18, 0] and hist[3, 1].tolist() == [14, 24, 0, 0]


def test_decoding_feeds_back_its_own_predictions():
    rng = np.random.default_rng(0)
    sizes = [MLP.NUM_STATIC + 4 * K, 6, 6, 6, K + 1]
    model = {
        "layers": [
            (rng.normal(size=(a, b)) * 0.1, rng.normal(size=b)) for a, b in zip(sizes[:-1], sizes[1:])
        ],
        "activation": "relu",
        "reference_metric_position": True,
    }
    piece = _piece()
    pred = MLP.predict(model, piece, K)
    # every prediction is what the net says given the history its own predictions build
    x = MLP.note_features(piece, K, labels=pred)
    assert np.array_equal(np.argmax(MLP._forward_numpy(model["layers"], x, "relu")[:, 1:], -1), pred)
    oracle = MLP.predict(model, piece, K, oracle=True)
    x = MLP.note_features(piece, K)
    assert np.array_equal(np.argmax(MLP._forward_numpy(model["layers"], x, "relu")[:, 1:], -1), oracle)


def test_fit_separates_high_and_low_parts():
    rng = np.random.default_rng(1)
    pieces = []
    for i in range(6):
        n = 40
        label = rng.integers(0, K, n)
        pitch = np.where(label == 0, rng.integers(66, 80, n), rng.integers(40, 54, n))
        pieces.append(data.Piece(f"p{i}", np.arange(n) * 24, pitch, np.full(n, 24), np.full(n, 64), label))
    model = MLP.train(pieces[:4], pieces[4:5], K, epochs=4, steps_per_epoch=150, progress=False)
    pred = MLP.predict(model, pieces[5], K)
    assert np.mean(pred == pieces[5].label) > 0.9
