"""Reproduce the pretrained models that ship inside the packages (`make models`).

    python -m demo_site.models                  # every model: data, training, metrics, packaging
    python -m demo_site.models --only music21   # one of them
    python -m demo_site.models --package-only   # repackage finished runs (runs/shipped/) again

Each model is trained by the project's own commands on the built-in data into
runs/shipped/<name>, each command timed (wall seconds, the load average before and after, since
the machine may be shared) into runs/shipped/logs/<step>.time.json; then the run folder's
run.json and params/ (and whatever the model needs beside them: MMT's prepare report, CLIPSonic's
CLIP and prior) are copied to <package>/pretrained/<name>/ with metrics.json and a MODEL_CARD.md
written from the run: data, the exact commands, steps, times, machine, parameters, metrics.
Rerunning resumes: a step whose time file says it finished is not run again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path("runs/shipped")
LOGS = WORK / "logs"


@dataclasses.dataclass(frozen=True)
class Shipped:
    name: str
    package: str  # where it ships: <package>/pretrained/<name>
    title: str
    data: str  # what it was trained on, for the card
    steps: tuple  # ((log name, argv), ...); argv[0] is a console script; RUN = the run folder
    beside: tuple = ()  # ((source, name in the shipped folder), ...), copied next to run.json
    metrics_json: str | None = None  # a step's --json output merged into metrics.json
    use: str = ""  # the Python lines that load it, for the card
    run: str = ""  # its run folder under runs/shipped/ (default: the name)


RUN = "{run}"
MMT_STEPS = 3000
LSTM_STEPS = 300
BILSTM_STEPS = 300
CLIPSONIC_STEPS = 1500
MUSEGAN_STEPS = 100

MODELS = (
    Shipped(
        "music21",
        "mmt_jax",
        "MMT, tiny, on the whole music21 corpus",
        "the built-in music21 corpus (`mmt-jax prepare --corpus music21` reads all 637 pieces and keeps "
        "those long enough, parts given General MIDI programs from their names; counts in "
        "prepare-report.json beside this card), seeded split",
        (
            ("mmt-prepare", ["mmt-jax", "prepare", "--corpus", "music21", "--out", "data/mmt/music21"]),
            (
                "mmt-music21",
                [
                    "mmt-jax",
                    "train",
                    "--config",
                    "configs/mmt/tiny.py",
                    "--data",
                    "data/mmt/music21",
                    "--out",
                    RUN,
                    f"train.max_steps={MMT_STEPS}",
                    f"optim.decay_steps={MMT_STEPS}",
                    "train.eval_every=500",
                ],
            ),
        ),
        beside=(("data/mmt/music21/prepare-report.json", "prepare-report.json"),),
        use='model = mmt_jax.load("music21")\npieces = model.generate(mode="unconditional", num_samples=2)',
    ),
    Shipped(
        "bach-lstm",
        "arranger_jax",
        "Arranger, online LSTM (streaming), on the Bach chorales",
        "the 409 Bach chorales of the music21 corpus (`arranger-jax prepare bach`), seeded split "
        "316/46/47 files; test accuracy on the 47 test chorales",
        (
            ("arranger-prepare", ["arranger-jax", "prepare", "bach", "--out", "data/arranger/bach"]),
            (
                "arranger-bach-lstm",
                [
                    "arranger-jax",
                    "train",
                    "--config",
                    "configs/arranger/bach_lstm.py",
                    "--data",
                    "data/arranger/bach",
                    "--out",
                    RUN,
                    f"train.max_steps={LSTM_STEPS}",
                    "train.eval_every=100",
                ],
            ),
        ),
        use='model = arranger_jax.load("bach-lstm")\narranged = model.instrument("solo.mid")',
        run="arranger-bach-lstm",
    ),
    Shipped(
        "bach-bilstm",
        "arranger_jax",
        "Arranger, offline BiLSTM (the best offline model on Bach), on the Bach chorales",
        "the 409 Bach chorales of the music21 corpus (`arranger-jax prepare bach`), seeded split "
        "316/46/47 files; test accuracy on the 47 test chorales",
        (
            ("arranger-prepare", ["arranger-jax", "prepare", "bach", "--out", "data/arranger/bach"]),
            (
                "arranger-bach-bilstm",
                [
                    "arranger-jax",
                    "train",
                    "--config",
                    "configs/arranger/bach_bilstm.py",
                    "--data",
                    "data/arranger/bach",
                    "--out",
                    RUN,
                    f"train.max_steps={BILSTM_STEPS}",
                    "train.eval_every=100",
                ],
            ),
        ),
        use='model = arranger_jax.load("bach-bilstm")\narranged = model.instrument("solo.mid")',
        run="arranger-bach-bilstm",
    ),
    Shipped(
        "synthetic-tiny",
        "clipsonic_jax",
        "CLIPSonic, tiny, with its diffusion prior, on the built-in synthetic clips",
        "48 synthetic clips made on the fly (coloured shapes whose colour sets a tone's pitch), "
        "9 held out; a tiny random CLIP written on the fly (shipped in clip/); the prior (in prior/) "
        "learns captions 'a {label} shape'",
        (
            (
                "clipsonic-tiny",
                [
                    "clipsonic-jax",
                    "train",
                    "--config",
                    "configs/clipsonic/tiny.py",
                    "--out",
                    RUN,
                    f"train.max_steps={CLIPSONIC_STEPS}",
                    f"optim.decay_steps={CLIPSONIC_STEPS}",
                    "train.eval_every=500",
                ],
            ),
            (
                "clipsonic-prior-tiny",
                [
                    "clipsonic-jax",
                    "train-prior",
                    "--config",
                    "configs/clipsonic/prior_tiny.py",
                    "--out",
                    "runs/shipped/clipsonic-prior-tiny",
                ],
            ),
            (
                "clipsonic-evaluate",
                [
                    "clipsonic-jax",
                    "evaluate",
                    "--checkpoint",
                    RUN,
                    "--prior",
                    "runs/shipped/clipsonic-prior-tiny",
                    "--json",
                    "runs/shipped/logs/clipsonic-evaluate.json",
                ],
            ),
        ),
        beside=(("data/clipsonic/tiny-clip", "clip"), ("runs/shipped/clipsonic-prior-tiny", "prior")),
        metrics_json="runs/shipped/logs/clipsonic-evaluate.json",
        use='model = clipsonic_jax.load("synthetic-tiny")\nsounds = model.generate(text=["a red shape"])',
        run="clipsonic-tiny",
    ),
    Shipped(
        "bach-hybrid",
        "musegan_jax",
        "MuseGAN, tiny hybrid, on 4-bar phrases of the Bach chorales",
        "4-bar phrases of the built-in Bach chorales at 12 steps per beat (`musegan-jax prepare`)",
        (
            (
                "musegan-prepare",
                ["musegan-jax", "prepare", "--beat-resolution", "12", "--out", "data/musegan/bach-12.npz"],
            ),
            (
                "musegan-bach-hybrid",
                [
                    "musegan-jax",
                    "train",
                    "--config",
                    "configs/musegan/tiny.py",
                    "--out",
                    RUN,
                    f"train.max_steps={MUSEGAN_STEPS}",
                ],
            ),
        ),
        use='model = musegan_jax.load("bach-hybrid")\npieces = model.generate(num_samples=2)',
        run="musegan-bach-hybrid",
    ),
)

# Run-folder parts that stay behind: training state and logs are not needed for inference.
LEFT_BEHIND = ("checkpoints", "tb", "metrics.jsonl")


def shipped_dir(spec: Shipped) -> Path:
    return ROOT / spec.package / "pretrained" / spec.name


def run_dir(spec: Shipped) -> Path:
    return WORK / (spec.run or spec.name)


def _argv(argv, spec):
    argv = [a.replace(RUN, str(run_dir(spec))) for a in argv]
    script = Path(sys.executable).parent / argv[0]
    return [str(script) if script.exists() else argv[0], *argv[1:]], ["nice", "-n", "10"]


def run_step(log, argv, spec) -> dict:
    """Run one command (unless its time file says it finished), timed; returns the time record."""
    record_path = LOGS / f"{log}.time.json"
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        if record.get("rc") == 0:
            return record
    LOGS.mkdir(parents=True, exist_ok=True)
    command, prefix = _argv(argv, spec)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    print("$", " ".join(command), flush=True)
    load0, start = os.getloadavg()[0], time.perf_counter()
    with open(LOGS / f"{log}.log", "w") as out:
        rc = subprocess.call(prefix + command, stdout=out, stderr=subprocess.STDOUT, env=env)
    record = {
        "command": command,
        "wall_s": time.perf_counter() - start,
        "rc": rc,
        "loadavg_start": load0,
        "loadavg_end": os.getloadavg()[0],
    }
    record_path.write_text(json.dumps(record, indent=1) + "\n")
    if rc != 0:
        raise SystemExit(f"models: `{' '.join(command)}` failed (exit {rc}); see {LOGS / (log + '.log')}")
    return record


def _count(params_dir) -> tuple[int, int]:
    """(parameters, bytes on disk) of an orbax params/ folder."""
    from train_kit.pretrained import count_parameters
    from train_kit.run import load_params

    count = count_parameters(load_params(params_dir.parent))
    size = sum(f.stat().st_size for f in params_dir.rglob("*") if f.is_file())
    return count, size


def _shown(argv, spec) -> str:
    return " ".join(a.replace(RUN, str(run_dir(spec))) for a in argv)


def _fmt(value):
    """A metric for the card: whole numbers as integers, others to 4 significant digits."""
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def card_text(spec, info, metrics, counts, times) -> str:
    """MODEL_CARD.md from the run's own records."""
    cfg = info["config"]
    lines = [
        f"# {spec.name}: {spec.title}",
        "",
        f"Written by `make models` (`python -m demo_site.models`) on {info.get('created', '?')}; "
        "every number below comes from the run.",
        "",
        "```python",
        f"import {spec.package}",
        "",
        spec.use,
        "```",
        "",
        f"- System: {info['system']}",
        f"- Data: {spec.data}",
        f"- Steps: {info.get('step')} exported (the best validation loss) of "
        f"{cfg.get('train', {}).get('max_steps')} trained",
        "- Parameters: " + ", ".join(f"{k} {c:,}" for k, (c, _) in counts.items()),
        "- Size on disk: " + ", ".join(f"{k} {s / 1e6:.2f} MB" for k, (_, s) in counts.items()),
        f"- Machine: {platform.machine()} CPU, {os.cpu_count()} cores, {platform.system()}, "
        f"jax {info.get('versions', {}).get('jax', '?')}; shared with other jobs (the load average "
        "before and after each command is given: above the core count means under load)",
        "",
        "## Commands",
        "",
        "| command | wall time | load average (start, end) |",
        "| --- | --- | --- |",
    ]
    for (log, argv), rec in zip(spec.steps, times):
        lines.append(
            f"| `{_shown(argv, spec)}` | {rec['wall_s'] / 60:.1f} min | "
            f"{rec['loadavg_start']:.1f}, {rec['loadavg_end']:.1f} |"
        )
    lines += ["", "## Metrics (metrics.json)", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in sorted(metrics.items())]
    return "\n".join(lines) + "\n"


def _flat(prefix, value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}{k}.", v, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix.rstrip(".")] = value


def package(spec: Shipped, times) -> Path:
    """Copy the run (and what it needs beside it) into the package; write metrics and the card."""
    src, dst = run_dir(spec), shipped_dir(spec)
    tmp = dst.with_name(dst.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(*LEFT_BEHIND))
    for source, name in spec.beside:
        source = Path(source)
        if source.is_dir():
            shutil.copytree(source, tmp / name, ignore=shutil.ignore_patterns(*LEFT_BEHIND))
        else:
            shutil.copy2(source, tmp / name)
    info = json.loads((tmp / "run.json").read_text())
    metrics = dict(info.get("metrics", {}))
    if spec.metrics_json:
        _flat("", json.loads(Path(spec.metrics_json).read_text()), metrics)
    (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    counts = {"model": _count(tmp / "params")}
    if (tmp / "prior" / "params").is_dir():
        counts["prior"] = _count(tmp / "prior" / "params")
    (tmp / "MODEL_CARD.md").write_text(card_text(spec, info, metrics, counts, times))
    shutil.rmtree(dst, ignore_errors=True)
    os.replace(tmp, dst)
    return dst


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m demo_site.models", description=__doc__.splitlines()[0])
    p.add_argument("--only", action="append", help="model name (repeatable); default: all")
    p.add_argument("--package-only", action="store_true", help="do not train; package runs/shipped/<name>")
    args = p.parse_args(argv)
    os.chdir(ROOT)
    chosen = [m for m in MODELS if not args.only or m.name in args.only]
    if args.only and len(chosen) != len(args.only):
        raise SystemExit(f"models: unknown name; choose from {', '.join(m.name for m in MODELS)}")
    total = 0
    for spec in chosen:
        if args.package_only:
            times = [json.loads((LOGS / f"{log}.time.json").read_text()) for log, _ in spec.steps]
        else:
            times = [run_step(log, argv, spec) for log, argv in spec.steps]
        dst = package(spec, times)
        size = sum(f.stat().st_size for f in dst.rglob("*") if f.is_file())
        total += size
        print(f"{spec.package}/pretrained/{spec.name}: {size / 1e6:.2f} MB ({dst / 'MODEL_CARD.md'})")
    print(f"shipped models: {total / 1e6:.2f} MB in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
