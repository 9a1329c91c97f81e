"""Arranger training plumbing: the window iterator, validation batches, configs."""
import numpy as np
import pytest

from arranger_jax import data, train as T
from arranger_jax.models import ArrangerConfig

K = 4


def _pieces(count=6, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        n = 20 + 7 * i
        out.append(data.Piece(f"p{i}", np.arange(n) * 12, rng.integers(40, 80, n), np.full(n, 12),
                              np.full(n, 64), rng.integers(0, K, n)))
    return out


def test_window_iterator_is_deterministic_and_resumable():
    cfg = T.ArrangerDataConfig(seq_len=16)
    it = T.WindowIterator(_pieces(), K, 4, cfg)
    first = [next(it) for _ in range(3)]  # crosses into the second pass (6 // 4 = 1 batch per pass)
    saved = it.get_state()
    after = [next(it) for _ in range(2)]
    again = T.WindowIterator(_pieces(), K, 4, cfg)
    assert all(np.array_equal(a["pitch"], b["pitch"]) for a, b in zip(first, [next(again) for _ in range(3)]))
    resumed = T.WindowIterator(_pieces(), K, 4, cfg)
    resumed.set_state(saved)
    for a, b in zip(after, [next(resumed) for _ in range(2)]):
        for key in a:
            assert np.array_equal(a[key], b[key])
    batch = first[0]
    assert batch["pitch"].shape == (4, 16) and batch["entry_hint"].shape == (4, 16, K)
    assert batch["target"].max() <= K and batch["pitch_hint"].shape == (4, K)
    # a different seed draws different windows
    other = next(T.WindowIterator(_pieces(), K, 4, T.ArrangerDataConfig(seq_len=16, seed=1)))
    assert not np.array_equal(other["pitch"], first[0]["pitch"])


def test_process_slices_cover_the_global_batch():
    cfg = T.ArrangerDataConfig(seq_len=16)
    whole = next(T.WindowIterator(_pieces(), K, 4, cfg))
    halves = [next(T.WindowIterator(_pieces(), K, 4, cfg, i, 2)) for i in range(2)]
    assert np.array_equal(np.concatenate([h["pitch"] for h in halves]), whole["pitch"])


def test_eval_batches_pad_whole_pieces():
    pieces = _pieces(5)
    cfg = T.ArrangerDataConfig(eval_batch_size=2)
    batches = T.eval_batches(pieces, K, cfg, max_len=40)
    assert len(batches) == 3
    real = sum(int((b["target"] > 0).sum()) for b in batches)
    assert real == sum(min(len(p), 40) for p in pieces)
    assert all(b["pitch"].shape[1] % 64 == 0 for b in batches)
    assert not batches[-1]["pitch"][1].any()  # the filler row is all padding


def test_table_keys_and_config_files():
    from train_kit.config import ConfigError, load_config
    assert T.table_key(ArrangerConfig(arch="lstm", online=False, use_entry_hints=True)) == "bilstm_eh"
    assert T.table_key(ArrangerConfig(arch="transformer", online=True)) == "transformer_dec"
    exp = load_config("configs/arranger/bach_transformer_enc.py", ["model.use_entry_hints=True"])
    assert exp.model.arch == "transformer" and not exp.model.online and exp.model.use_entry_hints
    assert exp.batch_size == 16 and exp.data.seq_len == 500 and exp.train.patience == 5
    with pytest.raises(ConfigError):
        load_config("configs/arranger/tiny.py", ["model.hidden=3"])
