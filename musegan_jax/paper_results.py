"""The paper's Tables 1 and 2 (reference §1.4; LPD-5 cleansed phrases, 20,000 bars per model),
and our printing of results in their layout."""

from __future__ import annotations

import math

# model -> values in the column order of TABLE1_COLUMNS / TABLE2_COLUMNS (None: "-", the condition)
TABLE1_COLUMNS = (
    ["EB_B", "EB_D", "EB_G", "EB_P", "EB_S"]
    + ["UPC_B", "UPC_G", "UPC_P", "UPC_S"]
    + ["QN_B", "QN_G", "QN_P", "QN_S", "DP_D"]
)
_N = None
TABLE1 = {
    "training data": [8.06, 8.06, 19.4, 24.8, 10.1, 1.71, 3.08, 3.28, 3.38, 90.0, 81.9, 88.4, 89.6, 88.6],
    "scratch jamming": [6.59, 2.33, 18.3, 22.6, 6.10, 1.53, 3.69, 4.13, 4.09, 71.5, 56.6, 62.2, 63.1, 93.2],
    "scratch composer": [0.01, 28.9, 1.34, 0.02, 0.01, 2.51, 4.20, 4.89, 5.19, 49.5, 47.4, 49.9, 52.5, 75.3],
    "scratch hybrid": [2.14, 29.7, 11.7, 17.8, 6.04, 2.35, 4.76, 5.45, 5.24, 44.6, 43.2, 45.5, 52.0, 71.3],
    "ablated (no BN)": [92.4, 100, 12.5, 0.68, 0.00, 1.00, 2.88, 2.32, 4.72, 0.00, 22.8, 31.1, 26.2, 0.0],
    "cond. jamming": [4.60, 3.47, 13.3, _N, 3.44, 2.05, 3.79, _N, 4.23, 73.9, 58.8, _N, 62.3, 91.6],
    "cond. composer": [0.65, 20.7, 1.97, _N, 1.49, 2.51, 4.57, _N, 5.10, 53.5, 48.4, _N, 59.0, 84.5],
    "cond. hybrid": [2.09, 4.53, 10.3, _N, 4.05, 2.86, 4.43, _N, 4.32, 43.3, 55.6, _N, 67.1, 71.8],
}
TABLE2_COLUMNS = ["TD_B-G", "TD_B-S", "TD_B-P", "TD_G-S", "TD_G-P", "TD_S-P"]
TABLE2 = {
    "train": [1.57, 1.58, 1.51, 1.10, 1.02, 1.04],
    "train (shuffled)": [1.59, 1.59, 1.56, 1.14, 1.12, 1.13],
    "scratch jamming": [1.56, 1.60, 1.54, 1.05, 0.99, 1.05],
    "scratch composer": [1.37, 1.36, 1.30, 0.95, 0.98, 0.91],
    "scratch hybrid": [1.34, 1.35, 1.32, 0.85, 0.85, 0.83],
    "cond. jamming": [1.51, 1.53, 1.50, 1.04, 0.95, 1.00],
    "cond. composer": [1.41, 1.36, 1.40, 0.96, 1.01, 0.95],
    "cond. hybrid": [1.39, 1.36, 1.38, 0.96, 0.94, 0.95],
}


def _cell(v):
    if v is None:
        return "—"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


def markdown_table(rows, columns, with_paper=None):
    """rows: {name: {column: value}}; with_paper: the paper's table (dict name -> list) first."""
    head = ["model"] + [c.split("_", 1)[1] if c.startswith("TD_") else c.replace("_", " ") for c in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, values in (with_paper or {}).items():
        lines.append("| paper: " + name + " | " + " | ".join(_cell(v) for v in values) + " |")
    for name, values in rows.items():
        lines.append("| " + name + " | " + " | ".join(_cell(values.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def tables(rows, paper=True):
    """Both tables (markdown) for {name: Result.flat()}."""
    return (
        "Table 1 (intra-track; EB, QN, DP in %)\n\n"
        + markdown_table(rows, TABLE1_COLUMNS, TABLE1 if paper else None)
        + "\n\nTable 2 (tonal distance; smaller is closer)\n\n"
        + markdown_table(rows, TABLE2_COLUMNS, TABLE2 if paper else None)
    )
