"""The paper's Table 2 (accuracy %, test split; reference §10), for printing our numbers beside it.

Columns: bach, string quartets (MusicNet), game music (NES), pop (LMD). None = not reported.
Our music21 quartet stand-in is printed beside the MusicNet column.
"""

COLUMNS = ("bach", "musicnet", "nes", "lmd")
COLUMN_OF = {"bach": "bach", "musicnet": "musicnet", "quartets": "musicnet", "nes": "nes", "lmd": "lmd"}

# (section, row name, key used by our commands, values per column)
TABLE2 = (
    ("Online models", "Zone-based", "zone", (73.14, 58.85, 43.67, 57.07)),
    ("Online models", "MLP [de Valk & Weyde]", "mlp", (81.63, 29.85, 43.08, 33.50)),
    ("Online models", "LSTM", "lstm", (93.02, 67.43, 50.22, 74.14)),
    ("Online models", "Transformer-Dec", "transformer_dec", (91.51, 57.03, 45.82, 62.14)),
    ("Online models", "Zone-based (oracle)", "zone_oracle", (78.33, 66.89, 79.54, None)),
    ("Online models", "MLP (oracle)", "mlp_oracle", (97.59, 58.16, 65.30, 44.62)),
    ("Offline models", "BiLSTM", "bilstm", (97.13, 74.38, 52.93, 77.23)),
    ("Offline models", "Transformer-Enc", "transformer_enc", (96.81, 58.86, 49.14, 66.57)),
    ("Online models (+ entry hints)", "Closest-pitch", "closest", (68.87, 50.69, 57.14, 47.45)),
    ("Online models (+ entry hints)", "Closest-pitch (mono)", "closest_mono", (89.76, 42.82, 49.91, 32.28)),
    ("Online models (+ entry hints)", "LSTM", "lstm_eh", (92.70, 62.64, 62.11, 74.19)),
    ("Online models (+ entry hints)", "Transformer-Dec", "transformer_dec_eh", (91.17, 62.12, 56.73, 67.19)),
    ("Offline models (+ entry hints)", "BiLSTM", "bilstm_eh", (97.39, 71.51, 64.79, 75.59)),
    ("Offline models (+ entry hints)", "Transformer-Enc", "transformer_enc_eh", (93.81, 56.72, 54.67, 67.23)),
)


def paper_value(key, dataset):
    column = COLUMNS.index(COLUMN_OF[dataset])
    for _, _, k, values in TABLE2:
        if k == key:
            return values[column]
    return None


def format_table(results, datasets):
    """Markdown table in Table 2's layout: for each dataset our accuracy (%) and the paper's.
    `results[dataset][key]` is an accuracy in [0, 1]; rows with no result print a dash."""
    head = "| Model | " + " | ".join(f"{d} (ours) | {COLUMN_OF[d]} (paper)" for d in datasets) + " |"
    lines = [head, "|---|" + "---|---|" * len(datasets)]
    section = None
    for sec, name, key, _ in TABLE2:
        if sec != section:
            lines.append(f"| *{sec}* |" + " | |" * len(datasets))
            section = sec
        cells = []
        for d in datasets:
            ours = results.get(d, {}).get(key)
            paper = paper_value(key, d)
            cells.append(f"{100 * ours:.2f}" if ours is not None else "–")
            cells.append(f"{paper:.2f}" if paper is not None else "–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
