"""The MLP baseline adapted from de Valk & Weyde (ISMIR 2018), reference §7.4.

Per note, 9 + 4K unnormalised features: pitch, duration, "is ornament" (duration <= a 16th),
index in its onset group (0 = lowest), pitch distance to the next lower and next higher note of the
group (0 at the edges), group size, metric position, size of the next onset group; then for each
part j its history — |last pitch - p|, |last onset - t|, |last offset - t| and whether it is still
sounding (t < last offset), all -1 while part j has not sounded yet.

History comes from the true labels when training and in the "oracle" test; the normal test decodes
note by note, feeding back its own predictions. The network is the reference's: three Dense(128)
layers with no activation (so the whole net is linear) each followed by dropout 0.2, then a
K+1-way head; Adam, batch 16, 500 steps per epoch, early stopping with patience 5.
Options: `reference_metric_position` (the code takes duration mod 24, not onset mod 24) and
`activation` ("linear" as the reference, or "relu").
"""

from __future__ import annotations

import numpy as np

from arranger_jax import features as F

NUM_STATIC = 9
ORNAMENT_STEPS = 6  # a 16th note at 24 steps per quarter


def static_features(time, pitch, duration, reference_metric_position=True):
    """[N, 9] features that do not depend on labels."""
    time, pitch, duration = (np.asarray(a, np.int64) for a in (time, pitch, duration))
    n = len(time)
    out = np.zeros((n, NUM_STATIC), np.float32)
    out[:, 0] = pitch
    out[:, 1] = duration
    out[:, 2] = duration <= ORNAMENT_STEPS
    out[:, 7] = (duration if reference_metric_position else time) % F.BEAT_STEPS
    starts = np.flatnonzero(np.diff(time, prepend=time[:1] - 1))
    bounds = np.append(starts, n)
    for g, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        p = pitch[a:b]  # sorted by pitch inside a group
        out[a:b, 3] = np.arange(b - a)
        out[a:b, 4] = np.concatenate([[0], np.diff(p)])
        out[a:b, 5] = np.concatenate([np.diff(p), [0]])
        out[a:b, 6] = b - a
        out[a:b, 8] = bounds[g + 2] - bounds[g + 1] if g + 2 < len(bounds) else 0
    return out


class History:
    """Each part's last pitch, onset and offset so far, as the decoder assigns notes."""

    def __init__(self, num_parts):
        self.seen = np.zeros(num_parts, bool)
        self.pitch = np.zeros(num_parts, np.int64)
        self.onset = np.zeros(num_parts, np.int64)
        self.offset = np.zeros(num_parts, np.int64)

    def features(self, t, p):
        feats = np.stack(
            [
                np.abs(self.pitch - p),
                np.abs(self.onset - t),
                np.abs(self.offset - t),
                (t < self.offset).astype(np.int64),
            ],
            1,
        ).astype(np.float32)
        feats[~self.seen] = -1
        return feats.reshape(-1)

    def add(self, part, t, p, d):
        self.seen[part] = True
        self.pitch[part], self.onset[part], self.offset[part] = p, t, t + d


def note_features(piece, num_parts, labels=None, reference_metric_position=True):
    """[N, 9 + 4K] features with the history built from `labels` (default: the true labels)."""
    labels = piece.label if labels is None else labels
    static = static_features(piece.time, piece.pitch, piece.duration, reference_metric_position)
    hist = History(num_parts)
    rows = np.zeros((len(piece), 4 * num_parts), np.float32)
    for i in range(len(piece)):
        rows[i] = hist.features(piece.time[i], piece.pitch[i])
        hist.add(labels[i], piece.time[i], piece.pitch[i], piece.duration[i])
    return np.concatenate([static, rows], 1)


def _forward(params, x, activation, dropout_key=None, rate=0.2):
    import jax
    import jax.numpy as jnp

    for i, (w, b) in enumerate(params[:-1]):
        x = x @ w + b
        if activation == "relu":
            x = jax.nn.relu(x)
        if dropout_key is not None:
            keep = jax.random.bernoulli(jax.random.fold_in(dropout_key, i), 1 - rate, x.shape)
            x = jnp.where(keep, x / (1 - rate), 0.0)
    w, b = params[-1]
    return x @ w + b


def _forward_numpy(params, x, activation):
    for w, b in params[:-1]:
        x = x @ w + b
        if activation == "relu":
            x = np.maximum(x, 0)
    w, b = params[-1]
    return x @ w + b


def train(
    train_pieces,
    valid_pieces,
    num_parts,
    epochs=100,
    steps_per_epoch=500,
    batch_size=16,
    patience=5,
    units=128,
    activation="linear",
    seed=0,
    reference_metric_position=True,
    progress=True,
):
    """Fit on every training note (true-label history); returns NumPy params [(W, b), ...] of the
    epoch with the lowest validation loss, plus the activation under "activation"."""
    import jax
    import jax.numpy as jnp
    import optax
    from tqdm import tqdm

    feats = lambda pieces: np.concatenate(  # noqa: E731
        [note_features(p, num_parts, None, reference_metric_position) for p in pieces]
    )
    x_train, y_train = feats(train_pieces), np.concatenate([p.label for p in train_pieces]) + 1
    x_valid, y_valid = feats(valid_pieces), np.concatenate([p.label for p in valid_pieces]) + 1
    sizes = [x_train.shape[1], units, units, units, num_parts + 1]
    key = jax.random.key(seed)
    params = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = jax.nn.initializers.glorot_uniform()(jax.random.fold_in(key, i), (a, b))
        params.append((w, jnp.zeros(b)))
    tx = optax.adam(1e-3, eps=1e-7)
    opt_state = tx.init(params)

    def loss_fn(p, x, y, k):
        logits = _forward(p, x, activation, k)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(p, s, x, y, k):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y, k)
        updates, s = tx.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    valid_loss = jax.jit(lambda p: loss_fn(p, x_valid, y_valid, None))
    rng = np.random.default_rng(seed)
    best, best_params, waited = np.inf, params, 0
    for epoch in (bar := tqdm(range(epochs), desc="mlp", disable=not progress)):
        for s in range(steps_per_epoch):
            idx = rng.integers(0, len(x_train), batch_size)
            params, opt_state, _ = step(
                params,
                opt_state,
                x_train[idx],
                y_train[idx],
                jax.random.fold_in(key, epoch * steps_per_epoch + s + 1000),
            )
        loss = float(valid_loss(params))
        bar.set_postfix(valid_loss=f"{loss:.4f}")
        if loss < best:
            best, best_params, waited = loss, params, 0
        else:
            waited += 1
            if waited >= patience:
                break
    out = [(np.asarray(w), np.asarray(b)) for w, b in best_params]
    return {"layers": out, "activation": activation, "reference_metric_position": reference_metric_position}


def predict(model, piece, num_parts, oracle=False):
    """Part per note. oracle=True builds the history from the true labels; otherwise notes are
    decoded one by one, each history built from the model's own earlier predictions."""
    layers, activation = model["layers"], model["activation"]
    if oracle:
        x = note_features(piece, num_parts, None, model["reference_metric_position"])
        return np.argmax(_forward_numpy(layers, x, activation)[:, 1:], -1)
    static = static_features(piece.time, piece.pitch, piece.duration, model["reference_metric_position"])
    hist = History(num_parts)
    out = np.zeros(len(piece), np.int64)
    for i in range(len(piece)):
        x = np.concatenate([static[i], hist.features(piece.time[i], piece.pitch[i])])
        out[i] = np.argmax(_forward_numpy(layers, x[None], activation)[0, 1:])
        hist.add(out[i], piece.time[i], piece.pitch[i], piece.duration[i])
    return out
