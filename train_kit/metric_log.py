"""Metric logging: JSON lines (out_dir/metrics.jsonl) and TensorBoard events (out_dir/tb).

    log = MetricLogger(out_dir, resume_step=None)
    log.write(step, {"loss": 1.3, "lr": 1e-3}, split="train")   # one JSON line, one scalar each
    log.close()
    read_metrics(out_dir) -> list of dicts, in file order

A resumed run first drops the JSON lines (and, through purge_step, the TensorBoard events)
written after its checkpoint, so the logs read like one uninterrupted run. A line torn by a kill or a full disk is dropped on reading and
the file rewritten (atomically) before more is appended, so a torn tail never ends up mid-file.
Only process 0 writes.
"""

from __future__ import annotations

import json
import math
import os

from music_codecs.atomic import atomic_file


class MetricLogger:
    def __init__(self, out_dir, resume_step=None, enabled=True):
        self.enabled = bool(out_dir) and enabled
        self._file = self._tb = None
        if not self.enabled:
            return
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "metrics.jsonl")
        if os.path.exists(path):
            kept = read_metrics(out_dir)
            if resume_step is not None:
                kept = [r for r in kept if r.get("step", 0) <= resume_step]
            with atomic_file(path) as f:
                f.write("".join(json.dumps(r) + "\n" for r in kept).encode())
        self._file = open(path, "a")
        from tensorboardX import SummaryWriter

        self._tb = SummaryWriter(
            os.path.join(out_dir, "tb"), purge_step=None if resume_step is None else resume_step + 1
        )

    def write(self, step, metrics, split="train"):
        if not self.enabled:
            return
        row = {"step": int(step), "split": split}
        row.update({k: float(v) for k, v in metrics.items()})
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        for k, v in row.items():
            if k not in ("step", "split") and math.isfinite(v):
                self._tb.add_scalar(f"{split}/{k}", v, int(step))

    def close(self):
        if self._file:
            self._file.close()
            self._tb.close()
            self._file = self._tb = None


def read_metrics(out_dir):
    """The logged rows; a torn last line (a kill or a full disk mid-write) is dropped."""
    path = os.path.join(out_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = [line for line in f if line.strip()]
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:  # torn (at the end) or fused with a torn one (an older version)
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows
