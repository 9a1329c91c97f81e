"""Train a HiFi-GAN / BigVGAN vocoder through the one driver: two optimiser groups, generator
and discriminators (MPD + MSD), updated in that order within each step.

    cfg = load_config("configs/clipsonic/vocoder_tiny.py")
    result = train(cfg)           # run folder cfg.train.out_dir: the generator's params only

Per step, on one batch of real segments w (mel m = log_mel(w)):
  "discriminator": LSGAN loss of D on w against G(m) (G held fixed);
  "generator":     adv + fm_weight * feature matching + mel_weight * |log_mel(G(m)) - m|
                   against the just-updated D.
fit's "loss" is the generator's; the evaluation is the mel L1 on held-out segments (lower is
better, the metric keep_best_metric="eval_mel_l1" picks the exported step by).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from train_kit import driver

SYSTEM = "clipsonic-vocoder"


@dataclasses.dataclass
class Segments:
    train: np.ndarray  # float32 [N, segment_samples]
    eval: np.ndarray
    files: int
    skipped: list


@dataclasses.dataclass(frozen=True)
class VocoderGAN:
    generator: object
    discriminator: object


def cut_segments(waves, length, hop):
    out = []
    for w in waves:
        if len(w) < length:
            w = np.pad(w, (0, length - len(w)))
        out += [w[s : s + length] for s in range(0, len(w) - length + 1, hop)]
    return np.stack(out).astype(np.float32) if out else np.zeros((0, length), np.float32)


def ensure_synthetic(d, sample_rate):
    """Fill a missing d.path with d.synthetic_clips synthetic clips (never a folder of the user's)."""
    from clipsonic_jax import data, synthetic

    if d.synthetic_clips <= 0 or os.path.exists(d.path):
        return
    print(f"writing {d.synthetic_clips} synthetic clips to {d.path}")
    data.build_in_place(
        d.path,
        lambda tmp: synthetic.write_dataset(
            tmp, d.synthetic_clips, seed=d.seed, sample_rate=sample_rate, progress=True
        ),
    )


def load_segments(cfg, progress=True):
    from clipsonic_jax import audio_folder, data
    from music_codecs.errors import UserError

    d = cfg.data
    ensure_synthetic(d, cfg.mel.sample_rate)
    files = audio_folder.list_audio(d.path)
    waves, skipped = audio_folder.read_waves(files, cfg.mel.sample_rate, progress=progress)
    if skipped and progress:
        print(
            f"skipped {len(skipped)} unreadable file(s): " + "; ".join(f"{p} ({r})" for p, r in skipped[:5])
        )
    if not waves:
        raise UserError(f"{d.path}: none of the {len(files)} files could be read")
    tr, ev = data.split(len(waves), d.eval_every_nth)
    n = cfg.segment_samples
    train = cut_segments([waves[i] for i in tr], n, n // 2)
    evals = cut_segments([waves[i] for i in ev], n, n)[: d.eval_segments]
    if len(train) < d.batch_size:
        raise UserError(
            f"{d.path}: {len(train)} training segments, fewer than data.batch_size={d.batch_size}"
        )
    return Segments(train, evals, len(waves), skipped)


def make_losses(model: VocoderGAN, cfg):
    import jax

    from model_kit import vocoder_losses as L
    from model_kit.mel_frontend import log_mel

    G, D, w = model.generator, model.discriminator, cfg.loss

    def fake_of(params, wave):
        mel = log_mel(wave, cfg.mel)
        return mel, G.apply({"params": params["generator"]}, mel)

    def d_loss(params, extra, batch, rng):
        _, fake = fake_of(params, batch["wave"])
        fake = jax.lax.stop_gradient(fake)
        real_outs = D.apply({"params": params["discriminator"]}, batch["wave"])
        fake_outs = D.apply({"params": params["discriminator"]}, fake)
        loss = L.discriminator_loss(real_outs, fake_outs)
        return loss, {}

    def g_loss(params, extra, batch, rng):
        mel, fake = fake_of(params, batch["wave"])
        real_outs = D.apply({"params": params["discriminator"]}, batch["wave"])
        fake_outs = D.apply({"params": params["discriminator"]}, fake)
        adv = L.generator_adv_loss(fake_outs)
        fm = L.feature_matching_loss(real_outs, fake_outs)
        mel_l1 = L.mel_l1(mel, log_mel(fake, cfg.mel))
        loss = w.adv_weight * adv + w.fm_weight * fm + w.mel_weight * mel_l1
        return loss, {"adv": adv, "fm": fm, "mel_l1": mel_l1}

    return d_loss, g_loss


class VocoderTask(driver.Task):
    system = SYSTEM

    def setup(self, cfg):
        import jax

        return cfg, load_segments(cfg, progress=jax.process_index() == 0)

    def model(self, cfg):
        from model_kit.discriminators import Discriminators
        from model_kit.vocoder import Generator

        return VocoderGAN(Generator(cfg.vocoder), Discriminators(cfg.disc))

    def example_batch(self, cfg, data, rows):
        return {"wave": np.zeros((rows, cfg.segment_samples), np.float32)}

    def init_params(self, model, batch, rng):
        import jax
        import jax.numpy as jnp

        k_g, k_d = jax.random.split(rng)
        wave = jnp.asarray(batch["wave"][:1])
        mel = jnp.zeros((1, wave.shape[1] // model.generator.cfg.hop, model.generator.cfg.n_mels))
        return {
            "generator": model.generator.init(k_g, mel)["params"],
            "discriminator": model.discriminator.init(k_d, wave)["params"],
        }

    def optimizers(self, cfg):
        return {"generator": cfg.optim, "discriminator": cfg.optim_d}

    def updates(self, model, cfg):
        from train_kit.step import Update

        d_loss, g_loss = make_losses(model, cfg)
        return [Update("discriminator", "discriminator", d_loss), Update("generator", "generator", g_loss)]

    def main_update(self, cfg):
        return "generator"

    def export_params(self, state):
        return state.params["generator"]

    def eval_fn(self, model, cfg):
        from model_kit.mel_frontend import log_mel
        from model_kit.vocoder_losses import mel_l1

        def fn(params, batch):
            mel = log_mel(batch["wave"], cfg.mel)
            fake = model.generator.apply({"params": params["generator"]}, mel)
            return {"mel_l1": mel_l1(mel, log_mel(fake, cfg.mel))}

        return fn

    def pipelines(self, cfg, data, rows, process_index, process_count):
        from train_kit.data import ArrayIterator

        shard = dict(process_index=process_index, process_count=process_count)
        train_iter = ArrayIterator({"wave": data.train}, cfg.data.batch_size, seed=cfg.data.seed, **shard)
        if len(data.eval) < cfg.data.batch_size:
            return train_iter, None
        return train_iter, lambda: ArrayIterator(
            {"wave": data.eval}, cfg.data.batch_size, shuffle=False, num_epochs=1, **shard
        )

    def describe(self, cfg, data, n_params):
        v = cfg.vocoder
        return (
            f"vocoder {v.kind} (hop {v.hop}, {v.n_mels} mels) + MPD{list(cfg.disc.periods)}/MSDx{cfg.disc.scales}: "
            f"{n_params:,} parameters in both groups; {len(data.train)} training and {len(data.eval)} "
            f"evaluation segments of {cfg.segment_samples} samples from {data.files} files"
            + (f" ({len(data.skipped)} skipped)" if data.skipped else "")
        )


def train(cfg, progress=True):
    return driver.train(VocoderTask(), cfg, progress=progress)
