"""HiFi-GAN's training losses (least-squares GAN, feature matching, mel L1), on the outputs of
model_kit.discriminators.Discriminators: lists of (logits, feature maps), one per
sub-discriminator. Weights are the caller's (HiFi-GAN: adversarial 1, feature matching 2, mel 45).
"""

from __future__ import annotations

import jax.numpy as jnp


def discriminator_loss(real_outs, fake_outs):
    """sum over sub-discriminators of mean (1 - D(real))² + mean D(fake)²."""
    return sum(jnp.mean((1.0 - r) ** 2) + jnp.mean(f**2) for (r, _), (f, _) in zip(real_outs, fake_outs))


def generator_adv_loss(fake_outs):
    return sum(jnp.mean((1.0 - f) ** 2) for f, _ in fake_outs)


def feature_matching_loss(real_outs, fake_outs):
    """sum over sub-discriminators and layers of mean |f_real - f_fake| (real features fixed)."""
    import jax

    return sum(
        jnp.mean(jnp.abs(jax.lax.stop_gradient(a) - b))
        for (_, fr), (_, ff) in zip(real_outs, fake_outs)
        for a, b in zip(fr, ff)
    )


def mel_l1(real_logmel, fake_logmel):
    return jnp.mean(jnp.abs(real_logmel - fake_logmel))
