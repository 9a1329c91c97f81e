"""Trained vocoder against Griffin-Lim on held-out clips: spectral distance, the pitch check and
seconds per 4.096-s clip, both measured in the same run (Griffin-Lim is the baseline).

    python benchmarks/vocoder_quality.py --vocoder runs/clipsonic/vocoder-tiny \
        --data data/clipsonic/unseen-123 [--clips 24] [--json out.json]

Per clip (a 4.096-s window from the middle of each file): log-mel of the real audio -> each
vocoder -> audio, compared with the real audio by
  LSD: log-spectral distance in dB, mean over frames of the RMS over bins of
       10 log10 |S|² - 10 log10 |S'|² (n_fft 1024, hop 256; |S|² floored at 1e-10);
  mel L1: mean |log-mel(real) - log-mel(vocoded)| in the model's own mel settings;
  pitch: the dominant mel band of the vocoded audio equals the real audio's (the pitch check of
       clipsonic_jax.pitch_eval), and the class found from the per-class bands of the real clips.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time

import numpy as np


def lsd(ref, est, n_fft=1024, hop=256):
    import librosa

    a = np.abs(librosa.stft(ref, n_fft=n_fft, hop_length=hop)) ** 2
    b = np.abs(librosa.stft(est, n_fft=n_fft, hop_length=hop)) ** 2
    d = 10 * np.log10(np.maximum(a, 1e-10)) - 10 * np.log10(np.maximum(b, 1e-10))
    return float(np.mean(np.sqrt(np.mean(d**2, axis=0))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vocoder", required=True, help="a train-vocoder run folder (or a checkpoint folder)")
    p.add_argument(
        "--data", required=True, help="folder of held-out audio/videos (labels.csv for the pitch class)"
    )
    p.add_argument("--clips", type=int, default=24)
    p.add_argument("--griffin-lim-iters", type=int, default=32)
    p.add_argument("--json")
    args = p.parse_args(argv)

    from clipsonic_jax import audio_folder, synthetic, vocoder_use
    from clipsonic_jax.pitch_eval import class_bands, dominant_band
    from clipsonic_jax.vocoder_config import VocoderTrainConfig
    from music_codecs.mel import wave_to_mel
    from train_kit.config import from_dict
    from train_kit.run import load_run

    run = load_run(args.vocoder, system="clipsonic-vocoder")
    mel_cfg = dataclasses.replace(from_dict(VocoderTrainConfig, run.config).mel, clip_samples=65536)
    files = audio_folder.list_audio(args.data)[: args.clips]
    waves, skipped = audio_folder.read_waves(files, mel_cfg.sample_rate)
    labels_by_name = synthetic.read_labels(args.data)
    import os

    labels = [labels_by_name.get(os.path.basename(f), "") for f in files if f not in {s for s, _ in skipped}]
    real = []
    for w in waves:
        start = max(0, (len(w) - mel_cfg.clip_samples) // 2)
        real.append(
            np.pad(w[start : start + mel_cfg.clip_samples], (0, max(0, mel_cfg.clip_samples - len(w))))
        )
    mels = np.stack([wave_to_mel(w, mel_cfg) for w in real])
    bands = class_bands(mels, labels) if all(labels) else None

    vocoders = {
        "griffin-lim": vocoder_use.load_vocoder("griffin-lim", mel_cfg, args.griffin_lim_iters),
        "trained": vocoder_use.load_vocoder(args.vocoder, mel_cfg),
    }
    vocoders["trained"](mels[0])  # compile once, outside the timing
    vocoders["griffin-lim"](mels[0])  # librosa's numba warm-up
    rows = {}
    for name, voc in vocoders.items():
        t0 = time.perf_counter()
        out = [voc(m) for m in mels]
        secs = (time.perf_counter() - t0) / len(mels)
        out_mels = np.stack([wave_to_mel(w, mel_cfg) for w in out])
        dom_real, dom_out = dominant_band(mels), dominant_band(out_mels)
        row = {
            "vocoder": voc.name,
            "lsd_db": float(np.mean([lsd(a, b) for a, b in zip(real, out)])),
            "mel_l1": float(np.mean(np.abs(mels - out_mels))),
            "dominant_band_agreement": float(np.mean(dom_real == dom_out)),
            "seconds_per_clip": secs,
        }
        if bands is not None:
            from clipsonic_jax.pitch_eval import classify

            row["pitch_class_accuracy"] = float(
                np.mean(np.asarray(classify(out_mels, bands)) == np.asarray(labels))
            )
        rows[name] = row
    real_acc = float(np.mean(np.asarray(classify(mels, bands)) == np.asarray(labels))) if bands else None
    print(
        f"{len(mels)} clips of {mel_cfg.clip_samples / mel_cfg.sample_rate:.3f} s from {args.data}; "
        f"{platform.processor() or platform.machine()}, real-audio pitch class accuracy {real_acc}"
    )
    print(f"{'vocoder':<14}{'LSD dB':>9}{'mel L1':>9}{'band agree':>12}{'pitch acc':>11}{'s / clip':>10}")
    for name, r in rows.items():
        print(
            f"{name:<14}{r['lsd_db']:>9.2f}{r['mel_l1']:>9.3f}{r['dominant_band_agreement']:>12.3f}"
            f"{r.get('pitch_class_accuracy', float('nan')):>11.3f}{r['seconds_per_clip']:>10.3f}"
        )
    print(
        f"speed: trained vocoder {rows['griffin-lim']['seconds_per_clip'] / rows['trained']['seconds_per_clip']:.1f}x Griffin-Lim"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"clips": len(mels), "skipped": skipped, "real_pitch_accuracy": real_acc, "rows": rows},
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
