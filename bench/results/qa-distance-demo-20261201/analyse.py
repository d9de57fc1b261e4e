#!/usr/bin/env python3
"""The README's tables from eval qa's results, one folder at a time (qa.json, or answers.jsonl when the run is
still going): exact match per policy and distance with n; the mean share of the answer's (layer, KV head,
token) triples still cached; where recorded, the share of the answer's tokens at least one head still held;
exact match split by whether anything of the answer was cached. Standard library only.

    python3 analyse.py DIR [DIR ...]
"""
import collections
import json
import os
import sys


def answers(d):
    f = os.path.join(d, "qa.json")
    if os.path.exists(f):
        return json.load(open(f))["answers"]
    return [json.loads(line) for line in open(os.path.join(d, "answers.jsonl")) if line.strip()]


def fmt(d):
    if d >= 1 << 20 and d % (1 << 20) == 0:
        return f"{d >> 20}m"
    return f"{d >> 10}k" if d >= 1024 and d % 1024 == 0 else str(d)


def mean(rows, key):
    known = [r[key] for r in rows if r.get(key) is not None]
    return f"{100 * sum(known) / len(known):.0f}%" if known else "-"


def table(rows):
    cells = collections.defaultdict(list)
    for r in rows:
        cells[(r["policy"], r["targetDistance"])].append(r)
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    dists = sorted({r["targetDistance"] for r in rows})
    print("| | " + " | ".join(fmt(d) for d in dists) + " |")
    print("|---|" + "---|" * len(dists))
    for p in policies:
        out = []
        for d in dists:
            c = cells.get((p, d), [])
            out.append(f"{100 * sum(r['exact'] for r in c) / len(c):.0f}% ({len(c)})" if c else "-")
        print(f"| {p} exact match | " + " | ".join(out) + " |")
    for key, label in (("answerHeld", "answer held"), ("answerCovered", "answer covered")):
        if not any(r.get(key) is not None for r in rows):
            continue
        for p in policies:
            print(f"| {p} {label} | " + " | ".join(mean(cells.get((p, d), []), key) for d in dists) + " |")
    for p in policies:
        mine = [r for r in rows if r["policy"] == p]
        some = [r for r in mine if (r.get("answerHeld") or 0) > 0]
        none = [r for r in mine if r.get("answerHeld") == 0]
        print(f"- {p}: exact {sum(r['exact'] for r in some)}/{len(some)} when some of the answer was cached,"
              f" {sum(r['exact'] for r in none)}/{len(none)} when none was")


def main():
    for d in sys.argv[1:]:
        print(f"### {d}")
        table(answers(d))
        print()


if __name__ == "__main__":
    main()
