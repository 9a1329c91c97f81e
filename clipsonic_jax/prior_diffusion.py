"""Gaussian diffusion over CLIP image embeddings for the prior: the training loss and the DDIM
sampler (one jitted `lax.scan`), with classifier-free guidance and best-of-N selection
(reference §4.1).

Unit image embeddings are scaled by sqrt(dim) (`image_embed_scale`) before noising; the network
predicts the clean scaled embedding (x0) or the noise. Training drops the text tokens and the
image token independently with probability cond_drop (the network then uses its learned nulls).

    loss_fn = make_loss(predict, dcfg)          # train_kit loss_fn(params, batch, rng)
    sample = make_sampler(predict, dcfg, dim)   # jitted
    img = sample(params, text_embed [B, D], text_enc [B, L, D], rng, guidance)   # [B, D], unit

`predict(params, x_t, t, text_embed, text_enc, keep_text, keep_image, rng=None)` is the network
(`net_predict(PriorNetwork(cfg))`; rng given: dropout on). Guidance follows the reference:
null + (cond - null)·w, the null pass dropping text and image tokens alike; w = 1 is plain
conditional sampling. The DDIM step from t to s, with eps = (x_t/sqrt(ab_t) - x0)/sqrt(1/ab_t - 1):
    x_s = sqrt(ab_s)·x0 + c1·z + c2·eps, c1 = eta·sqrt((1 - ab_t/ab_s)(1 - ab_s)/(1 - ab_t)),
    c2 = sqrt(1 - ab_s - c1²); the last step returns x0.
`reference_ddim=True` reproduces DALLE2-pytorch's sampler exactly: step times
int(linspace(-1, T, steps + 1)) and ab_t, ab_s read one step early (alphas_cumprod_prev), while
eps uses ab_t itself. The default uses evenly strided times with the schedule the network was
trained on.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from clipsonic_jax.diffusion import alpha_bar
from clipsonic_jax.prior_config import PriorDiffusionConfig
from clipsonic_jax.samplers import timestep_pairs


def embed_scale(dcfg: PriorDiffusionConfig, dim):
    return float(dcfg.image_embed_scale or dim**0.5)


def net_predict(net):
    """predict(params, x_t, t, text_embed, text_enc, keep_text, keep_image, rng=None)."""

    def predict(params, x_t, t, text_embed, text_enc, keep_text, keep_image, rng=None):
        kw = {} if rng is None else {"rngs": {"dropout": rng}, "deterministic": False}
        return net.apply({"params": params}, x_t, t, text_embed, text_enc, keep_text, keep_image, **kw)

    return predict


def _l2norm(x):
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def make_loss(predict, dcfg: PriorDiffusionConfig, dim):
    """loss_fn(params, batch, rng) for {"image": [B, D] unit, "text": [B, D] unit, "enc": [B, L, D]}."""
    abar = jnp.asarray(alpha_bar(dcfg), jnp.float32)
    scale = embed_scale(dcfg, dim)

    def loss_fn(params, batch, rng):
        x0 = batch["image"] * scale
        b = x0.shape[0]
        k_t, k_eps, k_txt, k_img, k_drop = jax.random.split(rng, 5)
        t = jax.random.randint(k_t, (b,), 0, dcfg.timesteps)
        eps = jax.random.normal(k_eps, x0.shape, x0.dtype)
        a = jnp.sqrt(abar[t])[:, None].astype(x0.dtype)
        s = jnp.sqrt(1.0 - abar[t])[:, None].astype(x0.dtype)
        keep_text = jax.random.uniform(k_txt, (b,)) >= dcfg.cond_drop
        keep_image = jax.random.uniform(k_img, (b,)) >= dcfg.cond_drop
        pred = predict(
            params, a * x0 + s * eps, t, batch["text"], batch["enc"], keep_text, keep_image, k_drop
        )
        target = x0 if dcfg.prediction == "x0" else eps
        loss = jnp.mean(jnp.square(pred.astype(jnp.float32) - target.astype(jnp.float32)))
        return loss, {"mse": loss}

    return loss_fn


def ddim_schedule(dcfg: PriorDiffusionConfig, steps):
    """Per-step arrays (t, ab for eps, ab_t, ab_s, noise on, last step) from noisy to clean."""
    ab = alpha_bar(dcfg)
    if dcfg.reference_ddim:
        times = np.linspace(-1.0, dcfg.timesteps, steps + 1, dtype=np.float32)[:-1].astype(np.int64)[::-1]
        t, s = times[:-1], times[1:]
        prev = np.concatenate([[1.0], ab[:-1]]).astype(np.float32).astype(np.float64)  # alphas_cumprod_prev
        ab_t, ab_s = prev[t], prev[s]  # s = -1 wraps like the reference; that step returns x0
        noise_on = s > 0
    else:
        t, s = timestep_pairs(dcfg.timesteps, steps)
        ab_t, ab_s = ab[t], np.where(s >= 0, ab[np.maximum(s, 0)], 1.0)
        noise_on = s >= 0
    return {
        "t": np.asarray(t, np.int32),
        "ab_eps": np.asarray(ab[t], np.float32),
        "ab_t": np.asarray(ab_t, np.float32),
        "ab_s": np.asarray(ab_s, np.float32),
        "noise": np.asarray(noise_on, np.float32),
        "last": np.asarray(s < 0),
    }


def make_sampler(predict, dcfg: PriorDiffusionConfig, dim, steps=None, candidates=None, raw=False):
    """A jitted fn(params, text_embed [B, D], text_enc [B, L, D] | None, rng, guidance,
    init_noise=None) -> unit image embeddings [B, D] (the best of `candidates` per prompt by
    cosine similarity to its text embedding). init_noise [B·candidates, D] replaces the drawn
    starting noise (rows prompt-major). raw=True returns every candidate unnormalised, divided
    by the embedding scale: [B·candidates, D]."""
    steps = int(steps or dcfg.sample_timesteps)
    n_cand = int(candidates or dcfg.candidates)
    sched = {k: jnp.asarray(v) for k, v in ddim_schedule(dcfg, steps).items()}
    scale = embed_scale(dcfg, dim)
    eta = float(dcfg.eta)

    def sample(params, text_embed, text_enc, rng, guidance, init_noise=None):
        b = text_embed.shape[0]
        txt = jnp.repeat(text_embed.astype(jnp.float32), n_cand, axis=0)
        enc = None if text_enc is None else jnp.repeat(text_enc.astype(jnp.float32), n_cand, axis=0)
        n = txt.shape[0]
        k0, k_steps = jax.random.split(rng)
        x = jax.random.normal(k0, (n, dim), jnp.float32) if init_noise is None else init_noise
        keep = jnp.concatenate([jnp.ones((n,), bool), jnp.zeros((n,), bool)])
        txt2 = jnp.concatenate([txt, txt])
        enc2 = None if enc is None else jnp.concatenate([enc, enc])

        def step(x, inputs):
            st, key = inputs
            t = jnp.full((2 * n,), st["t"], jnp.int32)
            out = predict(params, jnp.concatenate([x, x]), t, txt2, enc2, keep, keep).astype(jnp.float32)
            out = out[n:] + (out[:n] - out[n:]) * guidance
            a_eps = st["ab_eps"]
            if dcfg.prediction == "x0":
                x0 = out
            else:
                x0 = (x - jnp.sqrt(1 - a_eps) * out) / jnp.sqrt(a_eps)
            if dcfg.clamp_l2norm:
                x0 = _l2norm(x0) * scale
            eps = (x / jnp.sqrt(a_eps) - x0) / jnp.sqrt(1.0 / a_eps - 1.0)
            a_t, a_s = st["ab_t"], st["ab_s"]
            c1 = eta * jnp.sqrt(jnp.maximum((1 - a_t / a_s) * (1 - a_s) / (1 - a_t), 0.0))
            c2 = jnp.sqrt(jnp.maximum(1 - a_s - c1**2, 0.0))
            z = jax.random.normal(key, x.shape, x.dtype) * st["noise"]
            x_next = x0 * jnp.sqrt(a_s) + c1 * z + c2 * eps
            return jnp.where(st["last"], x0, x_next), None

        keys = jax.random.split(k_steps, sched["t"].shape[0])
        x, _ = jax.lax.scan(step, x, (sched, keys))
        if raw:
            return x / scale
        img = (x / scale).reshape(b, n_cand, dim)
        sims = jnp.einsum("brd,bd->br", _l2norm(img), _l2norm(text_embed.astype(jnp.float32)))
        best = jnp.argmax(sims, axis=1)
        return _l2norm(img[jnp.arange(b), best])

    return jax.jit(sample)
