"""A PyTorch MMT with the reference's structure, for baselines measured beside ours (needs the
`bench` extra: torch==2.13.0, x-transformers==0.25.9).

Six token embeddings summed, plus the absolute position table times dim^-0.5, dropout, the
x-transformers 0.25.9 `Decoder` (asked for its hidden states, as the reference's wrapper does),
a final LayerNorm and six linear heads (reference mmt.md §2). The weights come from our
parameters through mmt_jax.convert.state_dict_to_reference, so both compute the same function
(`check_logits` asserts it). `generate` is the reference's decoding loop (§4.2-4.3) in our own
words: no cache, a full forward over the whole window every step, top-k per field, type and beat
monotonic, the five note fields drawn row by row.

    net = TorchMMT.from_params(params, config)
    codes = net.generate(prompt [B,P,6] LongTensor, num_events)
    loss = net.loss(batch_codes, batch_mask)                 # the reference's training loss
"""

from __future__ import annotations

import math

import numpy as np

NOTE, EOS, SOS = 3, 4, 0


def _require():
    try:
        import torch
        import x_transformers  # noqa: F401
    except ImportError as err:
        raise SystemExit(
            f"the PyTorch baseline needs the bench extra ({err}): pip install -e '.[bench]'"
        ) from None
    return torch


def thread_count() -> int:
    return _require().get_num_threads()


def build(config):
    """An untrained TorchMMT for an MMTConfig (absolute positions, or none)."""
    torch = _require()
    from torch import nn
    from x_transformers.x_transformers import AbsolutePositionalEmbedding, Decoder, TokenEmbedding

    class TorchMMT(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.config = c
            self.token_emb = nn.ModuleList(TokenEmbedding(c.dim, n) for n in c.vocab_sizes)
            self.pos_emb = (
                AbsolutePositionalEmbedding(c.dim, c.max_seq_len) if c.pos_emb == "absolute" else None
            )
            self.emb_dropout = nn.Dropout(c.dropout)
            self.attn_layers = Decoder(
                dim=c.dim,
                depth=c.depth,
                heads=c.heads,
                attn_dim_head=c.head_dim,
                ff_mult=c.ff_mult,
                attn_dropout=c.dropout,
                ff_dropout=c.dropout,
                rotary_pos_emb=c.pos_emb == "rotary",
            )
            self.norm = nn.LayerNorm(c.dim)
            self.to_logits = nn.ModuleList(nn.Linear(c.dim, n) for n in c.vocab_sizes)

        def forward(self, codes, mask=None):
            x = sum(emb(codes[..., i]) for i, emb in enumerate(self.token_emb))
            if self.pos_emb is not None:
                x = x + self.pos_emb(x)
            x = self.emb_dropout(x)
            x, _ = self.attn_layers(x, mask=mask, return_hiddens=True)
            x = self.norm(x)
            return [head(x) for head in self.to_logits]

        def loss(self, codes, mask):
            """Sum over fields of the mean cross-entropy of rows 1.. given rows ..T-2 (padding
            counted, as the reference's)."""
            logits = self(codes[:, :-1], mask[:, :-1])
            target = codes[:, 1:]
            return sum(
                nn.functional.cross_entropy(lg.transpose(1, 2), target[..., i]) for i, lg in enumerate(logits)
            )

        @torch.no_grad()
        def generate(self, prompt, num_events, threshold=0.9, generator=None):
            """The reference's loop: every step a full forward over the last max_seq_len rows."""
            c = self.config
            seq = prompt.clone()
            batch = seq.shape[0]
            max_type = seq[..., 0].max(dim=1).values
            max_beat = seq[..., 1].max(dim=1).values
            ks = [max(math.ceil((1 - threshold) * n), 1) for n in c.vocab_sizes]
            for _ in range(num_events):
                window = seq[:, -c.max_seq_len :]
                logits = [lg[:, -1] for lg in self(window)]
                type_logits = logits[0].clone()
                below = torch.arange(c.vocab_sizes[0], device=seq.device)[None] < max_type[:, None]
                type_logits[below] = -math.inf
                type_logits[:, SOS] = -math.inf
                etype = _draw(type_logits, ks[0], generator)
                max_type = torch.maximum(max_type, etype)
                event = torch.zeros((batch, 6), dtype=torch.long, device=seq.device)
                event[:, 0] = etype
                for b in range(batch):  # the reference samples the note fields row by row
                    if etype[b] == NOTE:
                        for f in range(1, 6):
                            lg = logits[f][b : b + 1].clone()
                            if f == 1:
                                lg[:, : int(max_beat[b])] = -math.inf
                            lg[:, 0] = -math.inf
                            event[b, f] = _draw(lg, ks[f], generator)[0]
                        max_beat[b] = max(int(max_beat[b]), int(event[b, 1]))
                    elif etype[b] == 1:  # instrument row
                        lg = logits[5][b : b + 1].clone()
                        lg[:, 0] = -math.inf
                        event[b, 5] = _draw(lg, ks[5], generator)[0]
                seq = torch.cat([seq, event[:, None]], dim=1)
                if bool((seq[..., 0] == EOS).any(dim=1).all()):
                    break
            return seq[:, prompt.shape[1] :]

    return TorchMMT(config)


def _draw(logits, k, generator):
    torch = _require()
    values, index = torch.topk(logits, k, dim=-1)
    probs = torch.softmax(values, dim=-1)
    return index.gather(-1, torch.multinomial(probs, 1, generator=generator))[:, 0]


def from_params(params, config, device="cpu"):
    """TorchMMT holding our parameters (converted with mmt_jax.convert), in eval mode."""
    torch = _require()
    from mmt_jax.convert import PREFIX, state_dict_to_reference

    net = build(config)
    state = state_dict_to_reference(jax_to_numpy(params), config)
    state = {k[len(PREFIX) :]: torch.from_numpy(np.array(v, np.float32)) for k, v in state.items()}
    net.load_state_dict(state, strict=True)
    return net.to(device).eval()


def jax_to_numpy(params):
    import jax

    return jax.tree.map(lambda x: np.asarray(x, np.float32), params)


def check_logits(net, params, config, length=16, batch=2, atol=1e-4, seed=0):
    """Assert that the PyTorch net and our model give the same logits on random codes;
    returns the largest difference."""
    import jax.numpy as jnp

    from mmt_jax.model import MusicTransformer

    torch = _require()
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, n, (batch, length)) for n in config.vocab_sizes], -1)
    ours = MusicTransformer(config).apply({"params": params}, jnp.asarray(codes, jnp.int32))
    device = next(net.parameters()).device
    with torch.no_grad():
        theirs = net(torch.from_numpy(codes).long().to(device))
    worst = max(float(np.abs(np.asarray(a) - b.cpu().numpy()).max()) for a, b in zip(ours, theirs))
    assert worst < atol, f"PyTorch and JAX logits differ by {worst:.2e} (> {atol})"
    return worst
