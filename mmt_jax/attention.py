"""Self-attention analysis (paper §4.4, reference §7): where in beat, position and pitch each head looks.

For a field d, a query event s and a key event t, the difference is key minus query,
x_t^(d) - x_s^(d) (negative: an earlier beat, a lower pitch). Per head:

* mean relative attention gamma_k: the attention mass on pairs with difference k over the
  attention mass on all counted pairs, summed over every piece before dividing;
* mean relative attention gain: gamma_k minus the share of counted pairs with difference k
  (what a uniform attention matrix would give).

Only note rows count (a field code of 0 marks a non-note row). Pairs, by definition:

* "paper" (default): keys strictly before the query (s > t), for the attention and the
  uniform baseline alike;
* "reference" (the reference code's visualize_attention.py): queries 1..L-1 and keys 0..L-2;
  the attention sums include the diagonal (s = t; future keys get zero attention anyway) and
  the baseline counts the whole square, future pairs and the diagonal included.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from mmt_jax.codec import MODEL_MAX_BEAT, encode_notes
from mmt_jax.data import cap_length, trim_beats

ANALYSED = {"beat": 1, "position": 2, "pitch": 3}  # field -> code column
PLOT_RANGES = {"beat": (-40, 4), "position": (-12, 12), "pitch": (-25, 25)}  # as in the paper
DEFINITIONS = ("paper", "reference")


def pair_mask(values, definition="paper"):
    """[L, L] bool over (query s, key t): the pairs that count for one field's code column."""
    if definition not in DEFINITIONS:
        raise ValueError(f"definition must be one of {DEFINITIONS}, got {definition!r}")
    values = np.asarray(values)
    length = len(values)
    note = values != 0
    mask = note[:, None] & note[None, :]
    if definition == "paper":
        return mask & np.tri(length, k=-1, dtype=bool)
    mask[0, :] = False  # queries 1..L-1
    mask[:, -1] = False  # keys 0..L-2
    return mask


@dataclasses.dataclass
class RelativeAttention:
    """Running sums for one field: attention mass and pair counts per head and difference."""

    span: int  # differences -span..span are kept (bin k + span)
    heads: int
    attention: np.ndarray = None  # [heads, 2*span+1] attention mass
    pairs: np.ndarray = None  # [2*span+1] pair counts (the uniform baseline)

    def __post_init__(self):
        if self.attention is None:
            self.attention = np.zeros((self.heads, 2 * self.span + 1))
        if self.pairs is None:
            self.pairs = np.zeros(2 * self.span + 1)

    @property
    def differences(self):
        return np.arange(-self.span, self.span + 1)

    def add(self, attn, values, definition="paper"):
        """Accumulate one piece: attn [heads, L, L] (query, key), values [L] field codes."""
        attn = np.asarray(attn, np.float64)
        values = np.asarray(values, np.int64)
        if attn.shape != (self.heads, len(values), len(values)):
            raise ValueError(
                f"attention {attn.shape} does not match {self.heads} heads and {len(values)} events"
            )
        mask = pair_mask(values, definition)
        diff = values[None, :] - values[:, None]  # [s, t]: key minus query
        if np.abs(diff[mask]).max(initial=0) > self.span:
            raise ValueError(f"a difference exceeds the span {self.span}")
        bins = diff[mask] + self.span
        self.pairs += np.bincount(bins, minlength=len(self.pairs))
        for h in range(self.heads):
            self.attention[h] += np.bincount(bins, weights=attn[h][mask], minlength=len(self.pairs))

    def relative(self):
        """[heads, 2*span+1] mean relative attention (each row sums to 1; NaN if nothing)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.attention / self.attention.sum(axis=1, keepdims=True)

    def baseline(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.pairs / self.pairs.sum()

    def gain(self):
        """[heads, 2*span+1] mean relative attention gain."""
        return self.relative() - self.baseline()[None]


def new_stats(vocab_sizes, heads):
    """One RelativeAttention per analysed field, spanning every possible code difference."""
    return {name: RelativeAttention(span=vocab_sizes[col] - 1, heads=heads) for name, col in ANALYSED.items()}


def add_piece(stats, codes, attn, definition="paper"):
    """Accumulate one piece's code rows [L, 6] and attention [heads, L, L] into every field."""
    codes = np.asarray(codes)
    for name, col in ANALYSED.items():
        stats[name].add(attn, codes[:, col], definition)


def piece_codes(notes, max_seq_len, max_beat):
    """The analysed rows of one test piece, as the reference: beat-trimmed, capped to
    max_seq_len rows (end-of-song kept), then cut to the first max_seq_len - 1 rows."""
    return cap_length(encode_notes(trim_beats(notes, max_beat)), max_seq_len)[: max_seq_len - 1]


def attention_maps(model_cfg, params, codes, layer=-1):
    """[heads, L, L] post-softmax attention of one layer for one piece (full causal pass)."""
    length = len(codes)
    # a few padded shapes, so only a few compiles (never past the position table)
    width = min(-(-length // 64) * 64, model_cfg.max_seq_len)
    padded = np.zeros((1, width, 6), np.int32)
    padded[0, :length] = codes
    mask = np.arange(width)[None] < length
    state = _forward(model_cfg)(params, padded, mask)
    blocks = sorted(
        (k for k in state["intermediates"] if k.startswith("blocks_")), key=lambda k: int(k.split("_")[1])
    )
    (probs,) = state["intermediates"][blocks[layer]]["attn"]["attention"]  # sown as a 1-tuple
    return np.asarray(probs[0, :, :length, :length])


@functools.lru_cache(maxsize=4)
def _forward(model_cfg):
    """A compiled forward pass that returns only the sown intermediates."""
    import jax

    from mmt_jax.model import MusicTransformer

    model = MusicTransformer(model_cfg)
    return jax.jit(lambda p, c, m: model.apply({"params": p}, c, m, mutable=["intermediates"])[1])


def analyse(params, model_cfg, pieces, *, definition="paper", layer=-1, max_beat=None, progress=True):
    """Statistics over note arrays `pieces` ([N, 5] each): {field: RelativeAttention}."""
    from tqdm.auto import tqdm

    stats = new_stats(model_cfg.vocab_sizes, model_cfg.heads)
    max_beat = MODEL_MAX_BEAT if max_beat is None else max_beat
    for notes in tqdm(pieces, desc="attention", unit="piece", disable=not progress):
        codes = piece_codes(notes, model_cfg.max_seq_len, max_beat)
        add_piece(stats, codes, attention_maps(model_cfg, params, codes, layer), definition)
    return stats


def to_json(stats, definition, layer):
    """Per field and head, the plotted range of differences with relative attention and gain."""
    out = {"definition": definition, "layer": layer, "fields": {}}
    for name, st in stats.items():
        low, high = PLOT_RANGES[name]
        keep = (st.differences >= low) & (st.differences <= high)
        out["fields"][name] = {
            "differences": st.differences[keep].tolist(),
            "baseline": _clean(st.baseline()[keep]),
            "relative_attention": [_clean(r) for r in st.relative()[:, keep]],
            "gain": [_clean(r) for r in st.gain()[:, keep]],
        }
    return out


def _clean(values):
    return [None if not np.isfinite(v) else round(float(v), 6) for v in values]


def plot_gain(stats, out_dir, title_suffix=""):
    """One heat map per field (a row per head, a column per difference) of the attention gain,
    on a diverging colour map centred at zero with symmetric limits. Returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    from pathlib import Path

    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, st in stats.items():
        low, high = PLOT_RANGES[name]
        keep = (st.differences >= low) & (st.differences <= high)
        gain = st.gain()[:, keep]
        limit = float(np.nanmax(np.abs(gain))) if np.isfinite(gain).any() else 1.0
        limit = limit or 1.0
        fig, ax = plt.subplots(figsize=(max(4.0, 0.13 * keep.sum() + 1.5), 0.35 * st.heads + 1.3))
        image = ax.imshow(
            gain,
            cmap="RdBu_r",
            vmin=-limit,
            vmax=limit,
            aspect="auto",
            interpolation="nearest",
            extent=(low - 0.5, high + 0.5, st.heads + 0.5, 0.5),
        )
        ax.set_xlabel(f"{name} difference (key - query)")
        ax.set_ylabel("head")
        ax.set_yticks(range(1, st.heads + 1))
        ax.set_title(f"mean relative attention gain: {name}{title_suffix}", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
        fig.tight_layout()
        path = out_dir / f"attention-gain-{name}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths
