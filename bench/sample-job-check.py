#!/usr/bin/env python3
"""Reads default `bin/cascade-job` runs on the sample corpus row by row against the gold answers.

    python3 bench/sample-job-check.py LABEL=OUT_DIR[:W] [LABEL=OUT_DIR[:W] ...]     (LABEL ends at the last '=')

OUT_DIR is a job's --output folder (its arrow/ files are read); W the run's cascade width (cache-size / cascades,
default 256) and C = 4 cascades, for the reach column: W·(2^C − 1) tokens back, the sinks aside. Prints a markdown
table (one row per question: distance from the end of the fact sentence to the question in demo-tokenizer tokens,
which cascade of each run holds that distance, each run's answer and ✓/✗), the exact-match counts, and the
summary rows. Needs pyarrow and tokenizers.
"""
import glob
import json
import os
import sys

import pyarrow as pa
from tokenizers import Tokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CASCADES = 4


def rows(out_dir):
    out = []
    for f in sorted(glob.glob(os.path.join(out_dir, "arrow", "*.arrow"))):
        with pa.memory_map(f) as src:
            out.extend(pa.ipc.open_file(src).read_all().to_pylist())
    return out


def band(distance, w):
    """Which cascade of a full cache of width w holds a token `distance` tokens back (None: beyond the horizon)."""
    lo = 0
    for c in range(CASCADES):
        hi = lo + w * (1 << c)
        if distance < hi:
            return c
        lo = hi
    return None


def main():
    runs = []
    for arg in sys.argv[1:]:
        label, _, rest = arg.rpartition("=")
        path, _, w = rest.partition(":")
        runs.append((label, {(r["doc_id"], r["task"], r["question_id"]): r for r in rows(path)}, int(w or 256)))
    tok = Tokenizer.from_file(os.path.join(ROOT, "tools", "train", "tokenizer.json"))
    tok.encode_special_tokens = True
    corpus = os.path.join(ROOT, "sample-data", "corpus")
    docs = {}
    with open(os.path.join(corpus, "documents.jsonl")) as f:
        for line in f:
            d = json.loads(line)
            docs[d["doc_id"]] = d
    qs = [json.loads(line) for line in open(os.path.join(corpus, "questions.jsonl"))]
    head = "| question | gold | fact → question (tokens) |"
    sep = "|---|---|---|"
    for label, _, w in runs:
        head += f" {label}: cascade (W = {w}) | {label} answer | |"
        sep += "---|---|---|"
    print(head)
    print(sep)
    exact = {label: [0, 0, 0] for label, _, _ in runs}  # exact, in reach, exact in reach
    for q in qs:
        d = docs[q["doc_id"]]
        text = d["text"].rstrip()
        fact = next(x for x in d["questions"] if x["question_id"] == q["question_id"])
        fact_end = fact["fact_offset"] + len(fact["fact"])
        # the fact's last token to the question's first: the text after the fact, plus one (as the 2026-12-01 table)
        dist = len(tok.encode(text[fact_end:], add_special_tokens=False).ids) + 1
        line = f"| {q['question_id'][-8:]}: {q['question']} | {q['answer']} | {dist:,} |"
        for label, r, w in runs:
            c = band(dist, w)
            row = r.get((q["doc_id"], "qa", q["question_id"]))
            ans = (row or {}).get("text") or f"({(row or {}).get('error', 'no row')})"
            ok = ans.strip() == q["answer"]
            exact[label][0] += ok
            if c is not None:
                exact[label][1] += 1
                exact[label][2] += ok
            where = "beyond" if c is None else f"{c} (1/{1 << c})"
            print(line if label == runs[0][0] else "", end="")
            line = ""
            shown = ans.strip().replace("\n", "\\n").replace("|", "\\|")   # one table row per question
            print(f" {where} | {shown} | {'✓' if ok else '✗'} |", end="")
        print()
    print()
    for label, (e, reach, e_reach) in exact.items():
        print(f"- {label}: {e} of {len(qs)} exact; {reach} within reach, {e_reach} of them exact")
    print()
    for label, r, _ in runs:
        print(f"### summaries, {label}\n")
        for (doc_id, task, _), row in sorted(r.items(), key=lambda kv: kv[0][0]):
            if task == "summary":
                print(f"- {doc_id[-5:]} ({row.get('tokens_out')} tokens): {row.get('text')!r}")
        print()


if __name__ == "__main__":
    main()
