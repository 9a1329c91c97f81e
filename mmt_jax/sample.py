"""Sampling MMT events: one compiled loop over a key/value cache, and a no-cache baseline.

The sampler (`sample`) is one `jax.jit` around `lax.while_loop`: the prompt is prefilled in one
parallel pass, the cache (one [B, heads, L, head_dim] pair per layer, updated in place) is
donated, each step samples all six fields on device and pushes the new event through the cache,
and the loop ends when every row has ended (EOS) or `num_events` steps ran. `num_events`, the per-field temperatures, the prompt lengths and the keys are traced,
so changing them does not recompile; structural settings live in the frozen `SamplerConfig`.

Sampling follows the reference (reference mmt.md §4.2-4.3) field by field: per-field top-k with
k = ceil((1 - threshold) * vocab) in floating point (or top-p with cut-off 1 - threshold),
filtering before temperature; type and beat never fall below their running maxima (initialised
from the prompt); the SOS type is masked (for every row; the reference's row-0-only mask is
`sos_row0_only`); code 0 is masked for sampled fields; instrument rows sample only the
instrument, SOS/SON/EOS rows are zero elsewhere; a row stops at its EOS and is zero after it.
By default (`declared_only`) a note's instrument is one the sequence declared by an instrument
row, if it declared any (the reference's is free: `SamplerConfig.preset("reference", ...)`);
`max_beat_advance` bounds how far a note's beat may jump past the last. `strict=True` adds:
positions do not fall within a beat, and an instrument row never repeats an instrument.

Beyond the reference: rows may have prompts of different lengths (per-row cache index), and a
generation may outgrow the model's window: when a row's cache is full, its latest `refill`
events (default half the window) are prefilled again at positions 0.. and decoding goes on
from there (the reference slides the window by one and re-runs it all, every step). The refill
runs in an outer loop around the per-event loop, so the event step itself has no branch.

Speed: a call that fits in half the window gets a cache only as long as it needs, in blocks,
and a step's attention reads only the blocks holding what the longest row has filled
(`prefix_block`, mmt_jax.prefix_attention), so its cost grows with the length generated, with
one compiled program for every length (`SamplerConfig.cache_layout`). The last event of a call
is only sampled, never pushed through the cache (its prediction would not be used; when the
window is full it would cost a refill). `dtype="bfloat16"` decodes with bfloat16 weights and
cache (float32 softmax, sums and residual stream); `cache_dtype` may differ (bfloat16 weights
with a float32 cache suit the CPU); `default_dtype()` and `default_cache_dtype()` pick per
backend. The cache is made inside the compiled call, or handed from call to call
(`return_cache=True`, then `cache=`).

Randomness is per row and per step: row b at step s draws field f with
`split(fold_in(row_keys[b], s), 6)[f]`, so a row's sample does not depend on its batch
neighbours, and the no-cache `baseline_sample` (the reference's loop: a full forward over the
whole window every step, same sampling code) gives the same sequences for the same keys.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax import lax

from mmt_jax.codec import EOS, INSTRUMENT, NOTE, SOS
from mmt_jax.config import _dtype_name
from mmt_jax.model import FIELDS, MMTConfig, MusicTransformer, cache_length, init_cache, merge_prefix
from mmt_jax.prefix_attention import PREFIX_MODES

FILTERS = ("top_k", "top_p")
DTYPES = ("float32", "bfloat16")
NEG_INF = -jnp.inf
PRESETS = {
    "reference": dict(
        filter="top_k",
        thresholds=(0.9,) * 6,
        declared_only=False,
        max_beat_advance=0,
        keep_header=False,
        start_at_zero=False,
    ),
    # chosen by the measurements in docs/results.md: the beat drawn from its 3 most likely codes
    # (top-k 0.99; the paper's 0.9 keeps 26, and the long tail jumps tens of beats ahead)
    "default": dict(
        filter="top_k",
        thresholds=(0.9, 0.99, 0.9, 0.9, 0.9, 0.9),
        declared_only=True,
        max_beat_advance=0,
        keep_header=True,
        start_at_zero=True,
        rebase_beats=True,
    ),
}


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    """Static sampler settings (hashable: a change here compiles a new loop)."""

    model: MMTConfig
    max_events: int = 1024  # output buffer: events a call may add after the prompt
    filter: str = "top_k"  # "top_k" or "top_p", applied per field before temperature
    thresholds: tuple[float, ...] = (0.9,) * 6  # per field, the reference's filter_thres
    strict: bool = False  # musical constraints beyond the reference
    sos_row0_only: bool = False  # the reference's quirk: mask SOS type in batch row 0 only
    refill: int = 0  # events re-prefilled when the window is full (0: half)
    # Notes only on instruments the sequence has declared (when it declares any). The
    # reference leaves a note's instrument free (False), so an instrument-informed prompt is
    # only a hint: a model trained mostly on piano answers "violin, cello" with piano.
    declared_only: bool = True
    # A refill keeps the sequence's header (SOS, instrument rows, SON) in front of the latest
    # events, as every training window begins with it; False: only the latest events.
    keep_header: bool = True
    # The first note of a piece is on beat 0 (prepare moves every training piece there); a model
    # trained on windows from anywhere in a piece would otherwise start a new piece anywhere.
    start_at_zero: bool = True
    # A refill re-bases beats: the window's first note goes to beat 0 in the model's input (as
    # in training windows, which begin at beat 0) and the output keeps counting from where it
    # was, so a sample may run past the beat vocabulary (its beat codes then exceed it).
    rebase_beats: bool = False
    max_beat_advance: int = 0  # > 0: a note's beat is at most this many beats after the last
    # Decoding precision: "bfloat16" keeps parameters and cache in bfloat16 (half the bytes a
    # step reads) with float32 products' accumulation, residual stream, norms and softmax.
    dtype: str = "float32"
    # The cache's dtype ("": `dtype`). bfloat16 weights with a float32 cache suit XLA on CPU,
    # whose bfloat16 matrix products at batch >= 2 are fast but whose bfloat16 cache writes
    # and per-head products are not (docs/benchmarks.md).
    cache_dtype: str = ""
    # Attention reads only a prefix of the cache holding what the longest row has filled
    # (mmt_jax.prefix_attention): "buckets" of prefix_block * 2^j slots, or "blocks", a loop
    # over blocks of prefix_block slots; prefix_block 0: every slot, masked (the older path).
    prefix_block: int = 128
    prefix: str = "buckets"

    @classmethod
    def preset(cls, name: str, model: MMTConfig, **overrides) -> "SamplerConfig":
        """Named settings: "reference" (the paper's: top-k 0.9 on every field, instruments
        free) or "default" (SAMPLING_DEFAULT, chosen by measurement; docs/results.md)."""
        if name not in PRESETS:
            raise ValueError(f"unknown sampling preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(model, **{**PRESETS[name], **overrides})

    def __post_init__(self):
        thresholds = self.thresholds
        if isinstance(thresholds, (int, float)):
            thresholds = (float(thresholds),) * len(FIELDS)
        object.__setattr__(self, "thresholds", tuple(float(t) for t in thresholds))
        if len(self.thresholds) != len(FIELDS):
            raise ValueError(f"thresholds needs {len(FIELDS)} values, got {self.thresholds}")
        if self.filter not in FILTERS:
            raise ValueError(f"filter must be one of {FILTERS}, got {self.filter!r}")
        if not all(0.0 <= t < 1.0 for t in self.thresholds):
            raise ValueError(f"thresholds must lie in [0, 1), got {self.thresholds}")
        if self.max_events < 1:
            raise ValueError("max_events must be positive")
        if not 0 <= self.refill < self.model.max_seq_len:
            raise ValueError(f"refill must be below the window {self.model.max_seq_len}")
        if self.max_beat_advance < 0:
            raise ValueError("max_beat_advance must be non-negative (0: unbounded)")
        try:
            object.__setattr__(self, "dtype", _dtype_name(self.dtype))
        except ValueError:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}") from None
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.cache_dtype:
            try:
                object.__setattr__(self, "cache_dtype", _dtype_name(self.cache_dtype))
            except ValueError:
                raise ValueError(f"cache_dtype must be one of {DTYPES}, got {self.cache_dtype!r}") from None
            if self.cache_dtype not in DTYPES:
                raise ValueError(f"cache_dtype must be one of {DTYPES}, got {self.cache_dtype!r}")
        else:
            object.__setattr__(self, "cache_dtype", self.dtype)
        if self.prefix_block < 0:
            raise ValueError("prefix_block must be non-negative (0: attend over the whole cache)")
        if self.prefix not in PREFIX_MODES:
            raise ValueError(f"prefix must be one of {PREFIX_MODES}, got {self.prefix!r}")

    @property
    def decode_model(self) -> MMTConfig:
        """The model settings decoding runs with (compute and parameters in `dtype`; no
        rematerialisation, a training setting)."""
        if (
            self.model.dtype == self.dtype
            and self.model.param_dtype == self.dtype
            and self.model.remat == "none"
        ):
            return self.model
        return dataclasses.replace(self.model, dtype=self.dtype, param_dtype=self.dtype, remat="none")

    def cache_layout(self, width: int) -> tuple[int, int, int]:
        """(cache slots, cache block, attention block) of a call whose prompts are `width` wide.

        A call that fits in half the window (width + max_events - 1 slots: the last event is
        never pushed) gets a cache only as long as it needs, rounded up to prefix_block * 2^k,
        in doubling blocks (mmt_jax.model.block_sizes) that the prefix buckets read whole. A
        longer call gets the whole window in one array per layer, attended over whole: on the
        2-core CPU reading blocks beyond 512 slots cost more than the one array (docs/
        benchmarks.md). prefix="blocks": the whole window, its loop over prefix_block slots.
        """
        window = self.model.max_seq_len
        needed = width + self.max_events - 1
        if self.prefix == "blocks":
            return window, 0, self.prefix_block
        if self.prefix_block and needed <= window // 2:
            length = self.prefix_block
            while length < needed:
                length *= 2
            return length, self.prefix_block, self.prefix_block
        return window, 0, 0

    @property
    def top_ks(self) -> tuple[int, ...]:
        """k per field exactly as x-transformers 0.25.9 computes it (type: 1 at 0.9)."""
        return tuple(
            min(max(math.ceil((1 - t) * n), 1), n) for t, n in zip(self.thresholds, self.model.vocab_sizes)
        )

    @property
    def refill_events(self) -> int:
        return self.refill or max(self.model.max_seq_len // 2, 1)


def default_dtype(backend: str | None = None) -> str:
    """The decoding dtype of the weights when none is asked for: bfloat16 on every backend. On
    accelerators it halves the bytes a step reads; on the measured CPU XLA's bfloat16 matrix
    products are 1.2-2x faster than float32 at batch 8 and as fast at batch 1, within that
    VM's noise (docs/benchmarks.md). The same dtype at every batch size keeps a sample
    independent of the batch it was drawn in. The Table 3 metrics of bfloat16 samples lie
    inside float32's confidence intervals."""
    del backend  # the same everywhere; the cache is where backends differ
    return "bfloat16"


def default_cache_dtype(backend: str | None = None) -> str:
    """The cache's dtype when none is asked for: float32 on CPU, where XLA widens a bfloat16
    cache to float32 for every write and its per-head bfloat16 products are slow; bfloat16 on
    accelerators (half the bytes of attention)."""
    backend = backend or jax.default_backend()
    return "float32" if backend == "cpu" else "bfloat16"


# ----------------------------------------------------------------------------- state


@struct.dataclass
class Events:
    """What sampling has produced so far, and the running values the constraints need."""

    seq: jax.Array  # [B, P + max_events, 6] prompt then generated events, zeros after
    step: jax.Array  # [] events generated so far (all rows step together)
    done: jax.Array  # [B] the row has an EOS
    max_type: jax.Array  # [B] running maxima (monotonic fields)
    max_beat: jax.Array  # [B]
    last_beat: jax.Array  # [B] beat and position codes of the last note (strict mode)
    last_pos: jax.Array  # [B]
    declared: jax.Array  # [B, n_instruments] instruments named by instrument rows
    beat_offset: jax.Array  # [B] added to sampled beat codes in `seq` (rebase_beats)


@struct.dataclass
class SamplingState:
    events: Events
    logits: tuple  # six [B, n_i] float32: the distributions of the next event
    cache: dict  # the model's key/value cache
    cache_index: jax.Array  # [B] events held in each row's cache


def start_events(cfg: SamplerConfig, prompt, prompt_len) -> Events:
    """Events holding the prompts (rows past prompt_len ignored) and maxima taken from them."""
    batch, width, _ = prompt.shape
    real = jnp.arange(width)[None, :] < prompt_len[:, None]
    prompt = jnp.where(real[..., None], prompt, 0).astype(jnp.int32)
    seq = jnp.zeros((batch, width + cfg.max_events, len(FIELDS)), jnp.int32)
    seq = seq.at[:, :width].set(prompt)
    types = prompt[..., 0]
    is_note = real & (types == NOTE)
    # last note row of each prompt (index 0 when there is none; then masked below)
    last = jnp.max(jnp.where(is_note, jnp.arange(width)[None], -1), axis=1)
    has_note = last >= 0
    last_row = jnp.take_along_axis(prompt, jnp.maximum(last, 0)[:, None, None], axis=1)[:, 0]
    n_instruments = cfg.model.vocab_sizes[5]
    inst_rows = real & (types == INSTRUMENT)
    declared = jnp.any(
        jax.nn.one_hot(prompt[..., 5], n_instruments, dtype=bool) & inst_rows[..., None], axis=1
    )
    return Events(
        seq=seq,
        step=jnp.zeros((), jnp.int32),
        done=jnp.any(real & (types == EOS), axis=1),
        max_type=jnp.max(jnp.where(real, types, 0), axis=1),
        max_beat=jnp.max(jnp.where(real, prompt[..., 1], 0), axis=1),
        last_beat=jnp.where(has_note, last_row[:, 1], 0),
        last_pos=jnp.where(has_note, last_row[:, 2], 0),
        declared=declared,
        beat_offset=jnp.zeros((batch,), jnp.int32),
    )


# ----------------------------------------------------------------------------- sampling


def _draw(cfg: SamplerConfig, field: int, logits, temperature, keys):
    """One code per row from masked logits [B, V]: filter, then temperature, then sample."""
    vocab = logits.shape[-1]
    if cfg.filter == "top_k":
        values, index = lax.top_k(logits, cfg.top_ks[field])
    else:  # nucleus on the sorted logits; the best one always stays (reference's shift)
        values, index = lax.top_k(logits, vocab)
        cum = jnp.cumsum(jax.nn.softmax(values, axis=-1), axis=-1)
        remove = cum > 1 - cfg.thresholds[field]
        remove = jnp.concatenate([jnp.zeros_like(remove[:, :1]), remove[:, :-1]], axis=-1)
        values = jnp.where(remove, NEG_INF, values)
    values = values / jnp.maximum(temperature, 1e-6)
    choice = jax.vmap(jax.random.categorical)(keys, values)
    return jnp.take_along_axis(index, choice[:, None], axis=1)[:, 0].astype(jnp.int32)


def _below(values, floor):
    """[B, V] mask of codes below a per-row floor."""
    return jnp.arange(values.shape[-1])[None, :] < floor[:, None]


def sample_event(cfg: SamplerConfig, ev: Events, logits, temperature, keys):
    """The next event [B, 6] for every row, and the updated running values.

    keys [B, 6]: one key per row and field. All fields come from the same logits (one forward
    per event, as in the reference); masks may depend on fields drawn before in this event.
    """
    batch = ev.done.shape[0]
    rows = jnp.arange(batch)

    # type: never below the running maximum, never SOS
    type_logits = jnp.where(_below(logits[0], ev.max_type), NEG_INF, logits[0])
    sos_rows = (rows == 0) if cfg.sos_row0_only else jnp.ones((batch,), bool)
    type_logits = type_logits.at[:, SOS].set(jnp.where(sos_rows, NEG_INF, type_logits[:, SOS]))
    etype = _draw(cfg, 0, type_logits, temperature[0], keys[:, 0])
    is_note, is_inst = etype == NOTE, etype == INSTRUMENT

    def field(f, extra_mask):
        masked = jnp.where(extra_mask, NEG_INF, logits[f]).at[:, 0].set(NEG_INF)
        return _draw(cfg, f, masked, temperature[f], keys[:, f])

    beat_mask = _below(logits[1], ev.max_beat)
    if cfg.max_beat_advance:  # no jump past the largest advance seen in training
        last = jnp.maximum(ev.max_beat, 1)
        beat_mask |= ~_below(logits[1], last + cfg.max_beat_advance + 1)
    if cfg.start_at_zero:  # no note yet: the first goes on beat 0 (code 1)
        beat_mask |= (ev.max_beat == 0)[:, None] & ~_below(logits[1], jnp.full_like(ev.max_beat, 2))
    beat = field(1, beat_mask)
    no_mask = jnp.zeros((batch, 1), bool)
    if cfg.strict:  # positions never fall within a beat
        same_beat = (beat == ev.last_beat)[:, None]
        position = field(2, same_beat & _below(logits[2], ev.last_pos))
    else:
        position = field(2, no_mask)
    pitch = field(3, no_mask)
    duration = field(4, no_mask)
    declared = ev.declared
    any_declared = jnp.any(declared[:, 1:], axis=1, keepdims=True)
    if cfg.strict:  # notes use declared instruments; instrument rows name new ones
        all_declared = jnp.all(declared[:, 1:], axis=1, keepdims=True)
        inst_mask = jnp.where(is_inst[:, None], declared & ~all_declared, ~declared & any_declared)
    elif cfg.declared_only:  # notes use declared instruments
        inst_mask = jnp.where(is_inst[:, None], False, ~declared & any_declared)
    else:
        inst_mask = no_mask
    instrument = field(5, inst_mask)

    zero = jnp.zeros_like(etype)
    event = jnp.stack(
        [
            etype,
            jnp.where(is_note, beat, zero),
            jnp.where(is_note, position, zero),
            jnp.where(is_note, pitch, zero),
            jnp.where(is_note, duration, zero),
            jnp.where(is_note | is_inst, instrument, zero),
        ],
        axis=1,
    )
    event = jnp.where(ev.done[:, None], 0, event)  # ended rows stay zero
    live = ~ev.done
    is_note &= live
    declared = ev.declared | (
        jax.nn.one_hot(instrument, ev.declared.shape[1], dtype=bool) & (is_inst & live)[:, None]
    )
    return event, ev.replace(
        max_type=jnp.where(live, jnp.maximum(ev.max_type, etype), ev.max_type),
        max_beat=jnp.where(is_note, jnp.maximum(ev.max_beat, beat), ev.max_beat),
        last_beat=jnp.where(is_note, beat, ev.last_beat),
        last_pos=jnp.where(is_note, position, ev.last_pos),
        declared=declared,
    )


def step_keys(row_keys, step):
    """[B, 6] keys: row b, field f at this step."""
    return jax.vmap(lambda k: jax.random.split(jax.random.fold_in(k, step), len(FIELDS)))(row_keys)


def advance(cfg: SamplerConfig, ev: Events, logits, prompt_len, temperature, row_keys):
    """Sample one event per row from `logits`, write it after the row's events; (ev, event)."""
    event, ev = sample_event(cfg, ev, logits, temperature, step_keys(row_keys, ev.step))
    rows = jnp.arange(event.shape[0])
    stored = event.at[:, 1].add(jnp.where(event[:, 0] == NOTE, ev.beat_offset, 0))
    seq = ev.seq.at[rows, prompt_len + ev.step].set(stored)
    return ev.replace(seq=seq, step=ev.step + 1, done=ev.done | (event[:, 0] == EOS)), event


def window(seq, end, size):
    """Per row the last min(end, size) events before `end`, left-aligned in [B, size, 6]."""
    count = jnp.minimum(end, size)
    start = end - count
    rows = jax.vmap(lambda s, st: lax.dynamic_slice_in_dim(s, st, size, axis=0))(seq, start)
    return rows, count


def header_window(seq, end, size, max_header):
    """Like `window` for a full window (end >= size), but the row's header (its rows before the
    first note: SOS, instrument rows, SON; at most max_header) stays in front, followed by the
    latest events: the context a model trained on windows that always begin with the header
    expects."""
    is_note = seq[..., 0] == NOTE
    first_note = jnp.where(jnp.any(is_note, axis=1), jnp.argmax(is_note, axis=1), seq.shape[1])
    header = jnp.minimum(jnp.minimum(first_note, max_header), end)
    j = jnp.arange(size)[None, :]
    index = jnp.where(j < header[:, None], j, end[:, None] - size + j)
    index = jnp.clip(index, 0, seq.shape[1] - 1)
    return jnp.take_along_axis(seq, index[..., None], axis=1), jnp.minimum(end, size)


def rebased(seq, end, size, header, full, offset):
    """(seq as the model should see it, new offsets) for a refill: `seq` holds absolute beat
    codes; for the rows that refill (`full`) the offset becomes the beat of the window's first
    note after the header (which the model then sees as beat 0), other rows keep theirs."""
    codes, _ = header_window(seq, end, size, header) if header else window(seq, end, size)
    is_note = codes[..., 0] == NOTE
    first = jnp.min(jnp.where(is_note, codes[..., 1], jnp.iinfo(jnp.int32).max), axis=1)
    total = jnp.where(full & jnp.any(is_note, axis=1), first - 1, offset)
    note = seq[..., 0] == NOTE
    shifted = seq.at[..., 1].set(jnp.where(note, jnp.maximum(seq[..., 1] - total[:, None], 1), seq[..., 1]))
    return shifted, total


def _last(logits, count):
    """Logits of each row's last real position: six [B, S, n] -> six [B, n]."""
    return tuple(jnp.take_along_axis(x, (count - 1)[:, None, None], axis=1)[:, 0] for x in logits)


# ----------------------------------------------------------------------------- cache

# ----------------------------------------------------------------------------- cached loop


def _prefill(model, params, cache, seq, end, size, keep_header=0, block=0, prefix="buckets"):
    """Prefill the last `size` events before `end` at positions 0.. (with keep_header > 0: the
    header, up to that many rows, then the latest events); (logits, cache, count)."""
    size = min(size, seq.shape[1])
    if keep_header:
        codes, count = header_window(seq, end, size, keep_header)
    else:
        codes, count = window(seq, end, size)
    logits, cache = model.apply(params, codes, cache, 0, count, block, prefix, method=MusicTransformer.decode)
    return _last(logits, count), cache, count


def cast_params(params, dtype):
    """Floating leaves in `dtype` (done once per call, inside the compiled loop)."""
    return jax.tree.map(lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, params)


@functools.partial(jax.jit, static_argnums=0, donate_argnums=2)
def _sample_loop(cfg: SamplerConfig, params, cache, prompt, prompt_len, num_events, temperature, row_keys):
    model = MusicTransformer(cfg.decode_model)
    params = {"params": cast_params(params, cfg.dtype)}
    width = prompt.shape[1]
    length, layout_block, block = cfg.cache_layout(width)
    if cache is None:  # made here: one fill, not a dozen host-side allocations
        cache = init_cache(cfg.decode_model, prompt.shape[0], length, cfg.cache_dtype, layout_block)
    elif cache_length(cache) < length:
        raise ValueError(
            f"the cache passed holds {cache_length(cache)} slots, this call needs {length} "
            "(prompt width + max_events, up to the window); pass cache=None"
        )
    # the cache's own layout (it may be the caller's): a refill's cache copies it, and a
    # blocked cache is read through its buckets
    cache_block = cache[0]["k"][0].shape[2] if isinstance(cache[0]["k"], tuple) else 0
    block = block or cache_block
    max_len = cache_length(cache)
    num_events = jnp.minimum(num_events, cfg.max_events)
    ev = start_events(cfg, prompt, prompt_len)
    logits, cache, count = _prefill(
        model, params, cache, ev.seq, prompt_len, min(width, max_len), 0, block, cfg.prefix
    )
    state = SamplingState(ev, logits, cache, count)

    def live(state):
        return ~jnp.all(state.events.done)

    def running(state):
        """Another event is wanted after the one sampled next: that one goes through the cache.
        (The last event is only sampled: a prediction after it would never be used, and when
        the window is full it would cost a refill.)"""
        return (state.events.step < num_events - 1) & live(state)

    def needs_refill(state):
        return (state.cache_index >= max_len) & ~state.events.done

    def step(state):
        """Sample one event per row and push it through the cache (no row is full)."""
        ev, event = advance(cfg, state.events, state.logits, prompt_len, temperature, row_keys)
        index = jnp.minimum(state.cache_index, max_len - 1)  # ended rows may sit at the end
        logits, cache = model.apply(
            params,
            event[:, None],
            state.cache,
            index,
            None,
            block,
            cfg.prefix,
            method=MusicTransformer.decode,
        )
        return SamplingState(ev, tuple(x[:, 0] for x in logits), cache, index + 1)

    def refill(state):
        """Full rows prefill their latest events again at positions 0..; others keep theirs.

        The prefill runs on a cache of its own, only as long as the refill, which is then
        merged into the first positions of the main cache in place: prefilling the main cache
        itself would need a copy of the old one to restore the rows that are not full."""
        full = needs_refill(state)
        ev = state.events
        size = min(cfg.refill_events, max_len)
        fresh = init_cache(cfg.model, full.shape[0], size, cfg.cache_dtype, cache_block)
        header = size // 2 if cfg.keep_header else 0
        seq, offset = ev.seq, ev.beat_offset
        if cfg.rebase_beats:
            seq, offset = rebased(ev.seq, prompt_len + ev.step, size, header, full, ev.beat_offset)
            moved = offset - ev.beat_offset  # running maxima follow the new origin
            ev = ev.replace(
                max_beat=jnp.maximum(ev.max_beat - moved, 1),
                last_beat=jnp.maximum(ev.last_beat - moved, 1),
                beat_offset=offset,
            )
        logits, fresh, count = _prefill(
            model, params, fresh, seq, prompt_len + ev.step, size, header, block, cfg.prefix
        )
        return SamplingState(
            ev,
            tuple(jnp.where(full[:, None], r, d) for r, d in zip(logits, state.logits)),
            merge_prefix(state.cache, fresh, full),
            jnp.where(full, count, state.cache_index),
        )

    def window_pass(state):
        # The refill sits outside the per-event loop: a branch there would cost a copy of
        # the cache every step.
        state = lax.cond(jnp.any(needs_refill(state)), refill, lambda s: s, state)
        return lax.while_loop(lambda s: running(s) & ~jnp.any(needs_refill(s)), step, state)

    state = lax.while_loop(running, window_pass, state)
    last = (state.events.step < num_events) & live(state)
    ev, _ = advance(cfg, state.events, state.logits, prompt_len, temperature, row_keys)
    ev = jax.tree.map(lambda new, old: jnp.where(last, new, old), ev, state.events)
    return ev, state.cache


# ----------------------------------------------------------------------------- host API


@dataclasses.dataclass
class Samples:
    """Output of a sampling call (NumPy)."""

    codes: np.ndarray  # [B, P + max_events, 6] prompt then generated events
    prompt_len: np.ndarray  # [B]
    steps: int  # events generated per row (loop iterations)
    cache: tuple | None = None  # with sample(..., return_cache=True): pass back as cache=

    def sequences(self):
        """Per row: prompt + generated events, cut after the first generated EOS."""
        out = []
        for row, n in zip(self.codes, self.prompt_len):
            seq = row[: n + self.steps]
            eos = np.flatnonzero(seq[n:, 0] == EOS)
            out.append(seq[: n + eos[0] + 1] if len(eos) else seq)
        return out

    def generated(self):
        """Per row: only the generated events (up to and including EOS)."""
        return [s[n:] for s, n in zip(self.sequences(), self.prompt_len)]


def pad_prompts(prompts, multiple: int = 8):
    """A list of [n_i, 6] code arrays -> ([B, P, 6] int32, [B] lengths), P a multiple of
    `multiple` so that nearby prompt lengths share one compiled loop."""
    lengths = np.array([len(p) for p in prompts], np.int32)
    if lengths.min() < 1:
        raise ValueError("every prompt needs at least one event (e.g. the SOS row)")
    width = int(-(-lengths.max() // multiple) * multiple)
    out = np.zeros((len(prompts), width, len(FIELDS)), np.int32)
    for i, p in enumerate(prompts):
        out[i, : len(p)] = p
    return out, lengths


def row_keys_for(seed, indices):
    """Row keys that depend only on the seed and a sample's index (not on batch layout)."""
    base = jax.random.key(seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.asarray(indices, jnp.uint32))


def _temperatures(temperature):
    t = np.broadcast_to(np.asarray(temperature, np.float32), (len(FIELDS),))
    if np.any(t <= 0) or not np.all(np.isfinite(t)):
        raise ValueError(f"temperatures must be positive, got {t.tolist()}")
    return jnp.asarray(t)


def _prepare(cfg, prompts, row_keys, seed):
    if isinstance(prompts, tuple):
        prompt, prompt_len = prompts
    else:
        prompt, prompt_len = pad_prompts(prompts)
    if row_keys is None:
        row_keys = row_keys_for(seed, np.arange(len(prompt_len)))
    return jnp.asarray(prompt, jnp.int32), jnp.asarray(prompt_len, jnp.int32), row_keys


def sample(
    params,
    cfg: SamplerConfig,
    prompts,
    num_events=None,
    temperature=1.0,
    *,
    row_keys=None,
    seed=0,
    cache=None,
    return_cache=False,
) -> Samples:
    """Generate up to `num_events` (default cfg.max_events) events after each prompt.

    prompts: a list of [n_i, 6] code arrays (lengths may differ), or (codes [B,P,6], lengths [B]).
    temperature: one value or six (per field). row_keys: [B] keys (default: fold_in(seed, b)).
    cache: optionally a cache of this batch size to reuse (it is donated): `init_cache`'s, or
    the one a call with return_cache=True returned in `Samples.cache`. Reusing it saves the
    allocation and zero fill of the cache (0.15-0.8 s at batch 8 for the paper model on the
    2-core CPU); its old contents are never read (slots past a row's length are masked,
    and they hold finite values).
    """
    prompt, prompt_len, row_keys = _prepare(cfg, prompts, row_keys, seed)
    num_events = cfg.max_events if num_events is None else num_events
    ev, cache = _sample_loop(
        cfg,
        params,
        cache,
        prompt,
        prompt_len,
        jnp.asarray(num_events, jnp.int32),
        _temperatures(temperature),
        row_keys,
    )
    return Samples(np.asarray(ev.seq), np.asarray(prompt_len), int(ev.step), cache if return_cache else None)


# ----------------------------------------------------------------------------- baseline

_start_events = jax.jit(start_events, static_argnums=0)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _baseline_step(cfg: SamplerConfig, size: int, params, ev: Events, prompt_len, temperature, row_keys):
    """The reference's step: a full forward over the (last max_seq_len) events, positions
    restarting at 0, then the shared sampling code."""
    codes, count = window(ev.seq, prompt_len + ev.step, size)
    mask = jnp.arange(size)[None, :] < count[:, None]
    logits = MusicTransformer(cfg.model).apply({"params": params}, codes, mask)
    ev, _ = advance(cfg, ev, _last(logits, count), prompt_len, temperature, row_keys)
    return ev


def baseline_sample(
    params,
    cfg: SamplerConfig,
    prompts,
    num_events=None,
    temperature=1.0,
    *,
    row_keys=None,
    seed=0,
    bucket: int = 64,
    progress=None,
) -> Samples:
    """Reference-style sampling without a cache: every step re-runs the whole window.

    A Python loop like the reference's, checking for EOS on the host each step; the window is
    padded up to a multiple of `bucket` events so only a few shapes compile.
    """
    prompt, prompt_len, row_keys = _prepare(cfg, prompts, row_keys, seed)
    num_events = cfg.max_events if num_events is None else min(num_events, cfg.max_events)
    temperature = _temperatures(temperature)
    ev = _start_events(cfg, prompt, prompt_len)
    max_len, total = cfg.model.max_seq_len, ev.seq.shape[1]
    longest = int(np.max(prompt_len))
    for step in range(num_events):
        if bool(jnp.all(ev.done)):
            break
        size = min(-(-min(longest + step, max_len) // bucket) * bucket, max_len, total)
        ev = _baseline_step(cfg, size, params, ev, prompt_len, temperature, row_keys)
        if progress is not None:
            progress(step)
    return Samples(np.asarray(ev.seq), np.asarray(prompt_len), int(ev.step))


def baseline_bucket_sizes(cfg: SamplerConfig, longest_prompt: int, num_events: int, bucket: int = 64):
    """The window size the baseline uses at each step (for timing and warm-up)."""
    total = cfg.max_events + -(-longest_prompt // 8) * 8
    return [
        min(
            -(-min(longest_prompt + s, cfg.model.max_seq_len) // bucket) * bucket,
            cfg.model.max_seq_len,
            total,
        )
        for s in range(num_events)
    ]
