#!/usr/bin/env python3
"""ROUGE-L F1 of default `bin/cascade-job` runs' summary rows on the sample corpus, against the gold summary and
against the gold cut to what the cache reaches at the document's end (tools/train/train.py's Doc.visible_summary,
with the oldest non-sink position of a full cascading cache, S = 64, C = 4, from tools/train/cache_view.py).

    python3 bench/sample-job-summaries.py LABEL=OUT_DIR:W [LABEL=OUT_DIR:W ...]     (LABEL ends at the last '=')

Prints a markdown table. Needs pyarrow, tokenizers and numpy (train.py's imports; no torch).
"""
import glob
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))
import pyarrow as pa  # noqa: E402
import train as T  # noqa: E402
from cache_view import CascadeLayout  # noqa: E402


def summary_rows(out_dir):
    """doc_id -> summary text of a job's --output folder (its Arrow files)."""
    out = {}
    for f in glob.glob(os.path.join(out_dir, "arrow", "*.arrow")):
        for r in pa.ipc.open_file(pa.memory_map(f)).read_all().to_pylist():
            if r["task"] == "summary":
                out[r["doc_id"]] = r["text"]
    return out


def main():
    tok = T.load_tokenizer(os.path.join(ROOT, "tools", "train", "tokenizer.json"))
    docs = [json.loads(line) for line in open(os.path.join(ROOT, "sample-data", "corpus", "documents.jsonl"))]
    runs = []
    for arg in sys.argv[1:]:
        label, _, rest = arg.rpartition("=")
        path, _, w = rest.rpartition(":")
        runs.append((label, summary_rows(path), int(w)))
    print("| document (tokens) | " + " | ".join(f"{label}: vs gold | vs reachable gold" for label, _, _ in runs) + " |")
    print("|---|" + "---|---|" * len(runs))
    totals = [[0.0, 0.0] for _ in runs]
    for d in docs:
        doc = T.Doc(d, 4.62)
        enc = tok.encode(doc.text, add_special_tokens=False)
        n = 1 + len(enc.ids)  # BOS + the text, as the job reads it
        cells = []
        for k, (_, rows, w) in enumerate(runs):
            _, kept = CascadeLayout(64, w, 4).kept(n)
            oldest = kept[0] - 1  # the oldest non-sink position, as an index into the text's tokens
            since = enc.offsets[oldest][0] if oldest >= 0 else 0
            pred = rows.get(d["doc_id"], "")
            a, b = T.rouge_l(pred, doc.summary), T.rouge_l(pred, doc.visible_summary(since))
            totals[k][0] += a
            totals[k][1] += b
            cells.append(f"{a:.2f} | {b:.2f}")
        print(f"| {d['doc_id'][-5:]} ({n:,}) | " + " | ".join(cells) + " |")
    print("| mean | " + " | ".join(f"{a / len(docs):.2f} | {b / len(docs):.2f}" for a, b in totals) + " |")


if __name__ == "__main__":
    main()
