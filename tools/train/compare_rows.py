#!/usr/bin/env python3
"""Checks that two versions of train.py build the same training rows and episodes (for refactors of the row
builder): rows 0-39 of three seeds with phase 4's data settings (every thinning path on), plus 300 passkey and
300 QA episodes per seed drawn directly, compared token for token and code for code.

    python3 tools/train/compare_rows.py OLD_TRAIN_PY NEW_TRAIN_PY CORPUS/documents.jsonl [tokenizer.json]

With the HF `tokenizers` package and a tokenizer.json, rows are built with the real tokenizer; without them, with a
stand-in (one token per word, number, punctuation run or space run), which is enough to compare two builders
because neither version's tokenisation is under test. Needs numpy.
"""
import hashlib
import importlib.util
import json
import os
import re
import sys
import types
import zlib


def stand_in_tokenizers():
    piece = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+")

    class Enc:
        def __init__(self, ids, offsets):
            self.ids, self.offsets = ids, offsets

    class Tokenizer:
        @staticmethod
        def from_str(_):
            return Tokenizer()

        def token_to_id(self, t):
            return {"<|begin_of_text|>": 2418, "<|end_of_text|>": 2419}[t]

        def encode(self, s, add_special_tokens=False):
            ms = list(piece.finditer(s))
            return Enc([zlib.crc32(m.group().encode()) % 2418 for m in ms], [(m.start(), m.end()) for m in ms])

    mod = types.ModuleType("tokenizers")
    mod.Tokenizer = Tokenizer
    sys.modules["tokenizers"] = mod


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def main():
    import numpy as np
    old_path, new_path, corpus = sys.argv[1:4]
    tok_json = "{}"
    if len(sys.argv) > 4:
        tok_json = open(sys.argv[4]).read()
    else:
        stand_in_tokenizers()
    old, new = load("train_old", old_path), load("train_new", new_path)
    cfg = json.load(open(os.path.join(os.path.dirname(os.path.abspath(new_path)), "config.json")))
    d = cfg["data"]  # phase 4's data settings (README.md), so that every thinning path runs
    d["episode_mix"] = {"narration": 0.1, "qa": 0.6, "summary": 0.15, "passkey": 0.15}
    d["qa_whole_prob"], d["qa_gap_prob"], d["passkey"]["gap_prob"] = 0.35, 0.1, 0.5
    d["qa_kind_weights"] = {"count": 3, "born": 2.5, "give": 2}
    raw = [json.loads(line) for line in open(corpus) if line.strip()]
    cpt = 4.62
    rows = tokens = differing = thinned_pk = thinned_qa = 0
    digest = hashlib.sha256()
    for seed in (1, 7, 20261125):
        bo = old.RowBuilder([old.Doc(x, cpt) for x in raw], tok_json, cfg, seed, cpt)
        bn = new.RowBuilder([new.Doc(x, cpt) for x in raw], tok_json, cfg, seed, cpt)
        for i in range(40):
            (io, co), (inn, cn) = bo.row(i), bn.row(i)
            rows += 1
            tokens += len(inn)
            differing += not (np.array_equal(io, inn) and np.array_equal(co, cn))
            digest.update(inn.tobytes())
            digest.update(cn.tobytes())
        for i in range(300):
            ro, rn = np.random.default_rng([seed, 10 ** 6 + i]), np.random.default_rng([seed, 10 ** 6 + i])
            eo, en = bo.passkey(ro, 2048), bn.passkey(rn, 2048)
            differing += eo != en
            thinned_pk += bool(en and en[2]["dropped"])
            eo, en = bo.qa(ro, 2048), bn.qa(rn, 2048)
            differing += eo != en
            thinned_qa += bool(en and en[2].get("dropped"))
    print(f"{rows} rows ({tokens} tokens) and 1,800 episodes ({thinned_pk} passkey and {thinned_qa} QA episodes thinned);"
          f" differing: {differing}; rows sha256 {digest.hexdigest()[:16]}"
          f" ({'real tokenizer' if tok_json != '{}' else 'stand-in tokenizer'})")
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
