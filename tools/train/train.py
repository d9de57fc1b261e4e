#!/usr/bin/env python3
"""Trains cascade-lm's demo model (a small Llama) on the generated ground-truth corpus and exports it
to GGUF with the project's own writer (tools/reference/gguf_writer.py). See tools/train/README.md.

Stages (sub-commands):
  tokenizer  byte-level BPE (HF tokenizers, Llama 3 pre-tokenizer regex, single-threaded so that the
             result is bit-for-bit reproducible) learned from the first documents of the training corpus.
  train      everything else, on the GPU machine: builds training rows on the fly (DataLoader workers,
             deterministic per row index), trains (bf16 autocast, AdamW, cosine), evaluates (validation
             loss, QA exact match, summary ROUGE-L on held-out documents), exports GGUF F16 and Q8_0,
             re-evaluates from the exported weights, records Hugging Face logits of a fixed prompt,
             draws the training curve.

Prompt formats (exactly what the Java job must send; BOS is added by the tokenizer, add_bos = true):
  question answering:  <document text, trailing whitespace removed>\nQuestion: <question>\nAnswer:
                       the model continues with " <answer>" then <|end_of_text|>
  summary:             <document text, trailing whitespace removed>\nSummary:
                       the model continues with " <summary>" then <|end_of_text|>
"""

import argparse
import bisect
import io
import json
import lzma
import math
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(os.path.dirname(HERE), "reference")
sys.path.insert(0, HERE)
from cache_view import CascadeLayout, view  # noqa: E402

QA_PROMPT = "{text}\nQuestion: {question}\nAnswer:"
SUM_PROMPT = "{text}\nSummary:"
BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"
# token codes: what a target token is, for the loss weights and the per-kind losses
C_IGNORE, C_TEXT, C_ANSWER, C_SUMMARY, C_PASSKEY = 0, 1, 2, 3, 4
CODE_NAMES = {C_TEXT: "text", C_ANSWER: "answer", C_SUMMARY: "summary", C_PASSKEY: "passkey"}
EPISODE_KINDS = ("narration", "qa", "summary", "passkey")

# The passkey-retrieval prompt exactly as `cascade-lm eval passkey` builds it (bench: PasskeyPrompt.java):
# the task, filler sentences cycling through FILLER with the key sentence after `before` of them, the question.
PK_TASK = ("There is an important info hidden inside a lot of irrelevant text. "
           "Find it and memorize it. I will quiz you about the important information there.")
PK_FILLER = ("The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.", "There and back again.")
PK_QUESTION = "What is the pass key? The pass key is"


def passkey_key_sentence(key):
    return f"The pass key is {key}. Remember it. {key} is the pass key."


def passkey_text(n, before, key):
    """PasskeyPrompt.make: TASK, then n filler sentences with the key sentence before filler sentence `before`
    (after the last one when before == n), then the question; single spaces between sentences."""
    parts = [PK_TASK]
    for i in range(n):
        if i == before:
            parts.append(passkey_key_sentence(key))
        parts.append(PK_FILLER[i % len(PK_FILLER)])
    if before == n:
        parts.append(passkey_key_sentence(key))
    parts.append(PK_QUESTION)
    return " ".join(parts)
TEMPLATE = "{{ bos_token }}{% for message in messages %}{{ message['content'] }}{% endfor %}"


def log(*a):
    print(*a, flush=True)


# ------------------------------------------------------------------------------------------------
# corpus
# ------------------------------------------------------------------------------------------------
def open_text(path):
    """documents.jsonl, optionally compressed (.xz, .zst, .gz); returns a text stream."""
    if path.endswith(".zst"):
        p = subprocess.Popen(["zstd", "-dc", "--long=31", path], stdout=subprocess.PIPE)
        return io.TextIOWrapper(p.stdout, encoding="utf-8")
    if path.endswith(".xz"):
        if shutil.which("xz"):
            p = subprocess.Popen(["xz", "-dc", "-T0", path], stdout=subprocess.PIPE)
            return io.TextIOWrapper(p.stdout, encoding="utf-8")
        return lzma.open(path, "rt", encoding="utf-8")
    if path.endswith(".gz"):
        import gzip
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, "r", encoding="utf-8")


def load_docs(paths, limit=None):
    docs = []
    for path in paths:
        with open_text(path) as f:
            for line in f:
                if line.strip():
                    docs.append(json.loads(line))
                    if limit and len(docs) >= limit:
                        return docs
    return docs


_Q_KIND = re.compile(r"(What|Where|How many) \w+ (?:\w+ )*?(hide|lose|give|count|born)")


def question_kind(q):
    """The corpus' question templates: where did X hide/lose, what did X give, how many did X count, where was X born."""
    m = _Q_KIND.match(q)
    return m.group(2) if m else "other"


_SENT_END = re.compile(r"[.!?][\"'\u201d)]*(?=\s|$)")


_CHAPTER = re.compile(r"In chapter \d+, (.)")


class Doc:
    """One corpus document, with the sentence boundaries the row builder cuts at."""
    __slots__ = ("doc_id", "text", "summary", "questions", "ends", "starts", "est_tokens", "sum_sents")

    def __init__(self, d, cpt):
        self.doc_id = d["doc_id"]
        self.text = d["text"].rstrip()
        self.summary = d.get("summary", "").strip()
        qs = []
        for q in d.get("questions", []):
            f = q["fact_offset"]
            fact = q.get("fact", "")
            if fact and self.text[f:f + len(fact)] != fact:  # tolerate a generator whose offset is off
                g = self.text.find(fact)
                if g < 0:
                    continue
                f = g
            qs.append((q["question"].strip(), q["answer"].strip(), f, f + len(fact)))
        self.questions = qs
        self.ends = None
        self.starts = None
        self.est_tokens = int(len(self.text) / cpt)
        self.sum_sents = None

    def summary_sentences(self):
        """The gold summary's sentences with the character offset of the sentence of the text each one
        restates (None for the first and the last, which frame the story, and for any not found). The
        generator writes a fact as it stands in the text and a chapter's first event as "In chapter k, <its
        first sentence, first letter lower-cased>"; both are found in order."""
        if self.sum_sents is None:
            s = self.summary
            cuts = [m.end() for m in _SENT_END.finditer(s)]
            sents = [s[a:b].strip() for a, b in zip([0] + cuts, cuts + [len(s)]) if s[a:b].strip()]
            out, at = [], 0
            for i, x in enumerate(sents):
                off = None
                if 0 < i < len(sents) - 1:
                    m = _CHAPTER.match(x)
                    body = m.group(1).upper() + x[m.end():] if m else x
                    k = self.text.find(body, at)
                    if k >= 0:
                        off, at = k, k + 1
                out.append((x, off))
            self.sum_sents = out
        return self.sum_sents

    def visible_summary(self, since):
        """The gold summary cut to what a cache that reaches back to character `since` can restate: the frame
        (first and last sentence) and the sentences whose source starts at or after `since`."""
        ss = self.summary_sentences()
        keep = [x for i, (x, off) in enumerate(ss) if i in (0, len(ss) - 1) or (off is not None and off >= since)]
        return " ".join(keep)

    def bounds(self):
        if self.ends is None:
            ends = [m.end() for m in _SENT_END.finditer(self.text)]
            if not ends or ends[-1] != len(self.text):
                ends.append(len(self.text))
            starts = [0]
            t = self.text
            for e in ends[:-1]:
                s = e
                while s < len(t) and t[s].isspace():
                    s += 1
                starts.append(s)
            self.ends, self.starts = ends, starts
        return self.starts, self.ends

    def end_at_or_after(self, pos):
        _, ends = self.bounds()
        i = bisect.bisect_left(ends, pos)
        return ends[min(i, len(ends) - 1)]

    def start_at_or_before(self, pos):
        starts, _ = self.bounds()
        i = bisect.bisect_right(starts, max(pos, 0)) - 1
        return starts[max(i, 0)]


# ------------------------------------------------------------------------------------------------
# tokenizer
# ------------------------------------------------------------------------------------------------
def import_reference():
    sys.path.insert(0, REF)
    import gguf_writer as gw  # noqa: E402
    import make_fixtures as mf  # noqa: E402
    return gw, mf


def cmd_tokenizer(args, cfg):
    os.environ["RAYON_NUM_THREADS"] = "1"  # the BPE trainer is deterministic on one thread
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    gw, mf = import_reference()
    tc = cfg["tokenizer"]
    docs = load_docs(args.corpus, limit=tc["sample_docs"])
    lines = []
    for d in docs:
        lines.extend(ln for ln in d["text"].split("\n") if ln.strip())
        lines.append(d.get("summary", ""))
        for q in d.get("questions", []):
            lines.append(QA_PROMPT.format(text="", question=q["question"]) + " " + q["answer"])
    lines.append("\nSummary: ")
    log(f"tokenizer: {len(docs)} docs, {len(lines)} lines, {sum(map(len, lines)) / 1e6:.1f}M chars")
    t0 = time.time()
    tok = mf.train_bpe(lines, mf.LLAMA3_REGEX, tc["vocab_size"], tc["specials"], ignore_merges=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(tok.to_str())
    log(f"tokenizer: vocab {tok.get_vocab_size(with_added_tokens=True)} in {time.time() - t0:.1f}s -> {args.out}")


def chars_per_token(tok, texts):
    sample = "".join(texts)[:3_000_000]
    return len(sample) / max(1, len(encode_chunked(tok, sample).ids))


def load_tokenizer(path):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(path)
    tok.encode_special_tokens = True  # document text is never parsed for special tokens
    return tok


def bpe_tok(mf, tok):
    return mf.BpeTok(tok, [BOS, EOS], "llama-bpe", TEMPLATE, bos=BOS, eos=EOS, eot=EOS, pad=EOS, add_bos=True)


# ------------------------------------------------------------------------------------------------
# training rows
# ------------------------------------------------------------------------------------------------
_SAFE_SPLIT = re.compile(r"(?<=\S) (?=[A-Za-z])")


class Encoded:
    __slots__ = ("ids", "offsets")

    def __init__(self, ids, offsets):
        self.ids, self.offsets = ids, offsets


def encode_chunked(tok, s, chunk=800):
    """tok.encode(s) (ids and character offsets), computed piecewise: HF's pre-tokenizer is superlinear
    on long strings. Pieces are cut before a space that follows a non-space and precedes a letter, where
    the Llama 3 pre-tokenizer regex always starts a new pre-token, so the ids are identical."""
    ids, offs = [], []
    i = 0
    while i < len(s):
        j = len(s)
        if len(s) - i > 2 * chunk:
            m = _SAFE_SPLIT.search(s, i + chunk)
            if m and m.start() < len(s):
                j = m.start()
        e = tok.encode(s[i:j], add_special_tokens=False)
        ids.extend(e.ids)
        offs.extend((a + i, b + i) for a, b in e.offsets)
        i = j
    return Encoded(ids, offs)


def cascade_thinning(rng, offs, n_prompt, protect):
    """Which tokens of a prompt a cascading cache might still hold at its end (True = kept): the newest W tokens
    all, then each older band of W tokens doubling in age (W, 2W, 4W ...) keeps about half as many as the band
    after it, with random picks; sometimes the first 64 tokens as sinks. Tokens whose offset falls into a
    `protect` span (character ranges) are always kept. Tokens from n_prompt on (the answer) are kept."""
    import numpy as np
    w = int(rng.integers(64, 513))
    sinks = 64 if rng.random() < 0.5 else 0
    u = rng.random(len(offs))
    keep = [True] * len(offs)
    for j, (a, _) in enumerate(offs):
        dist = n_prompt - j
        if j >= n_prompt or j < sinks or dist <= w or any(p0 <= a < p1 for p0, p1 in protect):
            continue
        level = int(np.log2(dist / w)) + 1  # 1 for (W, 2W], 2 for (2W, 4W] ...
        keep[j] = u[j] < 0.5 ** level
    return keep


def passkey_filler_thinning(rng, offs, text, key_span, question_start, max_rate):
    """Which tokens of a passkey prompt stay (True = kept) when filler is dropped uniformly at a random rate up to
    max_rate and, half of the times, some non-digit tokens of the key sentence too. The task (what a sink keeps)
    and the question stay whole."""
    ks, ke = key_span
    rate = float(rng.uniform(0.0, max_rate))
    key_rate = float(rng.uniform(0.0, 0.5)) if rng.random() < 0.5 else 0.0
    drop = rng.random(len(offs))
    keep = [True] * len(offs)
    for j, (a, b) in enumerate(offs):
        if a < len(PK_TASK) or a >= question_start - 1:
            continue  # the task and the question (" What ...") stay whole
        if ks - 1 <= a < ke:
            if key_rate and not text[a:b].strip().isdigit() and drop[j] < key_rate:
                keep[j] = False
        elif drop[j] < rate:
            keep[j] = False
    return keep


def keep_tokens(ids, codes, keep):
    """The tokens a thinning keeps (keep[j] True), as (ids, codes, tokens dropped). A gappy context is no text
    target: kept text tokens are ignored by the loss, other targets (answer, passkey) stay."""
    kept_ids = [t for t, k in zip(ids, keep) if k]
    kept_codes = [C_IGNORE if c == C_TEXT else c for c, k in zip(codes, keep) if k]
    return kept_ids, kept_codes, keep.count(False)


class RowBuilder:
    """Builds row i (seq_len token ids + per-token codes) deterministically from (seed, i).

    A row is a sequence of episodes, each starting with BOS: narration (a window of a document, some
    with the document's first sentences glued in front, as a cascading cache keeps its sinks),
    question answering (a window holding the fact at a random depth before the question, then the
    answer and EOS), summary (a whole short document, then the gold summary and EOS). The last episode
    is always narration, cut to fill the row exactly.
    """

    def __init__(self, docs, tok_json, cfg, seed, cpt):
        self.docs = docs
        self.tok_json = tok_json
        self.tok = None
        self.cfg = cfg
        self.seed = seed
        self.cpt = cpt
        dc = cfg["data"]
        self.L = dc["seq_len"]
        self.mix = [dc["episode_mix"].get(k, 0.0) for k in EPISODE_KINDS]
        self.long_ids = [i for i, d in enumerate(docs) if d.est_tokens > 256]
        import numpy as np
        lens = np.array([docs[i].est_tokens for i in self.long_ids], dtype=np.float64)
        self.long_cum = np.cumsum(lens / lens.sum()) if len(lens) else None
        self.qa_ids = [i for i, d in enumerate(docs) if d.questions]
        # optional data.qa_kind_weights {kind: weight} (kinds absent weigh 1): questions are then drawn
        # one by one with these weights; without it, a document is drawn uniformly, then one of its questions
        self.qa_items = self.qa_cum = None
        kw = dc.get("qa_kind_weights")
        if kw:
            self.qa_items = [(i, qi) for i in self.qa_ids for qi in range(len(docs[i].questions))]
            wts = np.array([float(kw.get(question_kind(docs[i].questions[qi][0]), 1.0)) for i, qi in self.qa_items])
            self.qa_cum = np.cumsum(wts / wts.sum())
        sums = [(int((len(d.text) + len(d.summary)) / cpt) + 8, i) for i, d in enumerate(docs)
                if d.summary and (len(d.text) + len(d.summary)) / cpt < dc["summary_max_tokens"]]
        sums.sort()
        self.sum_est = [s for s, _ in sums]
        self.sum_ids = [i for _, i in sums]
        # data.view: contexts shaped as one KV head of a cascading cache holds them at question time (cache_view.py)
        self.vs = dc.get("view") or {}
        self.view_widths = sorted((int(w), float(p)) for w, p in self.vs.get("widths", {}).items())
        self.layouts = {}
        smallest = min((w for w, _ in self.view_widths), default=0)
        full = self.vs.get("sinks", 64) + smallest * self.vs.get("cascades", 4)
        self.view_sum_ids = [i for i, d in enumerate(docs) if d.summary and d.est_tokens > full]
        # questions of documents longer than the smallest cache (shorter ones are kept whole: plain QA covers them)
        self.view_qa_items = [(i, qi) for i in self.qa_ids if docs[i].est_tokens > full
                              for qi in range(len(docs[i].questions))]
        wts = np.array([float((kw or {}).get(question_kind(docs[i].questions[qi][0]), 1.0)) for i, qi in self.view_qa_items])
        self.view_qa_cum = np.cumsum(wts / wts.sum()) if len(wts) else None

    def _tok(self):
        if self.tok is None:
            from tokenizers import Tokenizer
            self.tok = Tokenizer.from_str(self.tok_json)
            self.tok.encode_special_tokens = True
            self.bos = self.tok.token_to_id(BOS)
            self.eos = self.tok.token_to_id(EOS)
            # passkey prompt sizes, measured the way PasskeyPrompt does: the fixed part, and tokens per
            # filler sentence in running text
            self.pk_fixed = 1 + len(self.encode(PK_TASK + " " + passkey_key_sentence("12345") + " " + PK_QUESTION).ids)
            cyc = "".join(" " + PK_FILLER[i % len(PK_FILLER)] for i in range(8 * len(PK_FILLER)))
            self.pk_tps = len(self.encode(cyc).ids) / (8 * len(PK_FILLER))
        return self.tok

    def encode(self, s):
        return encode_chunked(self._tok(), s)

    # -- episodes: each returns (ids, codes) starting with BOS, len <= room; or None
    def narration(self, rng, room):
        import numpy as np
        d = self.docs[self.long_ids[int(np.searchsorted(self.long_cum, rng.random()))]]
        n_chars = int(room * self.cpt * 1.2) + 64
        t = d.text
        start = int(rng.integers(0, max(1, len(t) - n_chars // 2)))
        if start > 0:  # begin at a word
            sp = t.find(" ", start)
            start = sp + 1 if 0 <= sp < start + 40 else start
        dc = self.cfg["data"]
        prefix = ""
        if start > 0 and rng.random() < dc["sink_prefix_prob"]:
            pe = d.end_at_or_after(int(dc["sink_prefix_tokens"] * self.cpt * rng.uniform(0.5, 1.5)))
            if pe < start:
                prefix = t[:pe] + " "
        s = prefix + t[start:start + n_chars]
        ids = self.encode(s).ids[: room - 1]
        return [self.bos] + ids, [C_IGNORE] + [C_TEXT] * len(ids)

    def qa(self, rng, room, d=None, qi=None, depth=None, fixed=False):
        """room: most tokens for the episode (BOS included). Returns (ids, codes, info)."""
        import numpy as np
        if d is None and self.qa_cum is not None:
            di, qi = self.qa_items[min(int(np.searchsorted(self.qa_cum, rng.random())), len(self.qa_items) - 1)]
            d = self.docs[di]
        elif d is None:
            d = self.docs[self.qa_ids[int(rng.integers(len(self.qa_ids)))]]
            qi = int(rng.integers(len(d.questions)))
        q, a, f, fe = d.questions[qi]
        cpt = self.cpt
        suffix_est = int((len(q) + len(a)) / cpt) + 8
        fact_est = int((fe - f) / cpt) + 2
        avail = room - 1 - suffix_est - fact_est - 8
        if avail < 16:
            return None
        # data.qa_whole_prob: the whole document when it fits, the way a short document is asked about
        # (it begins at the title and ends at the document's end, as in the job and the "whole" evaluation)
        # (settings that are off draw no random numbers, so that rows stay as earlier phases made them)
        whole_p = self.cfg["data"].get("qa_whole_prob", 0.0)
        whole = (whole_p > 0 and depth is None and not fixed and d.est_tokens + suffix_est + 8 < room
                 and rng.random() < whole_p)
        if whole:
            s, e = 0, len(d.text)
        else:
            maxd = min(self.cfg["data"]["max_depth_tokens"], avail)
            if depth is None:
                depth = int(rng.integers(0, maxd + 1))
            depth = min(depth, maxd)
            e = d.end_at_or_after(fe + int(depth * cpt))
            pre_room = avail - int((e - fe) / cpt)
            pre = int(rng.integers(0, max(1, pre_room))) if not fixed else max(0, pre_room)
            s = d.start_at_or_before(f - int(pre * cpt * 0.95))
        ctx = d.text[s:e].rstrip()
        prompt = QA_PROMPT.format(text=ctx, question=q)
        full = prompt + " " + a
        enc = self.encode(full)
        ids, offs = enc.ids, enc.offsets
        codes = [C_ANSWER if o[0] >= len(prompt) else C_TEXT for o in offs]
        cut = max(0, len(ids) + 2 - room)  # + BOS + EOS
        if cut:
            if cut >= len(ids) or offs[cut][0] > f - s:
                return None  # the fact would be cut off
            ids, codes, offs = ids[cut:], codes[cut:], offs[cut:]
        n_ans = sum(1 for c in codes if c == C_ANSWER)
        q_tok = len(ids) - n_ans
        fact_end_tok = next(i for i, o in enumerate(offs) if o[1] >= fe - s)
        info = {"depth_tokens": q_tok - fact_end_tok - 1, "prompt_tokens": q_tok + 1, "answer": a, "question": q}
        gap_p = self.cfg["data"].get("qa_gap_prob", 0.0)
        if gap_p > 0 and not fixed and rng.random() < gap_p:
            # the context as a cascading cache leaves it (fact and question kept whole); not a text target then
            keep = cascade_thinning(rng, offs, q_tok, [(f - s - 1, fe - s), (len(ctx), 1 << 30)])
            ids, codes, info["dropped"] = keep_tokens(ids, codes, keep)
        return [self.bos] + ids + [self.eos], [C_IGNORE] + codes + [C_ANSWER], info

    # -- contexts as the cache leaves them (data.view)
    def layout(self, width):
        if width not in self.layouts:
            self.layouts[width] = CascadeLayout(self.vs.get("sinks", 64), width, self.vs.get("cascades", 4))
        return self.layouts[width]

    def view_width(self, rng, room, extra):
        """A cascade width W drawn from data.view.widths among those whose full view (S + C·W rows) and `extra`
        tokens fit `room`; None if none does."""
        import numpy as np
        S, C = self.vs.get("sinks", 64), self.vs.get("cascades", 4)
        ok = [(w, p) for w, p in self.view_widths if S + C * w + extra <= room]
        if not ok:
            return None
        p = np.array([p for _, p in ok])
        return ok[int(rng.choice(len(ok), p=p / p.sum()))][0]

    def doc_view(self, rng, d, e, width, pick="uniform"):
        """The document's first e characters read through a cascading cache of width W (sinks and cascades from
        data.view): the ids one KV head holds afterwards, in age order, BOS first (position 0, a sink), their
        character offsets (BOS: (-1, -1)) and the number of tokens read. Only the sinks and the stretch the
        cache reaches back to are tokenized; the count of tokens before that stretch is estimated (it only
        shifts the beat phase). None if the estimate fell short of the horizon."""
        S, C = self.vs.get("sinks", 64), self.vs.get("cascades", 4)
        lay = self.layout(width)
        reach = width * ((1 << C) - 1) + (1 << C) + 32
        sink_chars = int((S + 16) * self.cpt * 2)
        s0 = d.start_at_or_before(e - int(reach * self.cpt * 1.3))
        if s0 <= sink_chars:
            enc = self.encode(d.text[:e])
            region_ids, region_offs, first = [self.bos] + enc.ids, [(-1, -1)] + enc.offsets, 0
            n_read = len(region_ids)
        else:
            head = self.encode(d.text[:sink_chars])
            reg = self.encode(d.text[s0:e])
            region_ids, region_offs = reg.ids, [(a + s0, b + s0) for a, b in reg.offsets]
            n_read = 1 + int(round(s0 / self.cpt)) + len(region_ids)
            first = n_read - len(region_ids)
            sink_ids, sink_offs = [self.bos] + head.ids[:S - 1], [(-1, -1)] + head.offsets[:S - 1]
        out_ids, out_offs = [], []
        for p in view(rng, lay, n_read, pick):
            if p >= first:
                out_ids.append(region_ids[p - first])
                out_offs.append(region_offs[p - first])
            elif first > 0 and p < S:
                out_ids.append(sink_ids[p])
                out_offs.append(sink_offs[p])
            else:
                return None
        return out_ids, out_offs, n_read

    def tokens_after(self, d, fe, e):
        """Tokens from the end of the fact (character fe) to the question (after character e), as QaEval counts
        the distance: the tokens of the text in between."""
        return len(self.encode(d.text[fe:e]).ids)

    def qa_view(self, rng, room, d=None, qi=None, distance=None, width=None, at_end=None, need_fact=True,
                measure=False):
        """A question asked after reading a document through the cache: the view of the document up to a sentence
        end (the document's end when `at_end`, or when drawn with data.view.end_prob and the fact is in reach;
        else `distance` tokens after the fact, drawn half uniform, half log-uniform up to the horizon), then
        "\nQuestion: q\nAnswer:", the answer and EOS. Only the answer is a target. With need_fact, None when
        no token of the fact sentence is left (nothing to read the answer from). info's distance is counted in
        tokens with `measure`, else estimated from characters. Returns (ids, codes, info)."""
        import numpy as np
        if d is None:  # a question drawn with data.qa_kind_weights, from a document longer than the smallest cache
            if self.view_qa_cum is None:
                return None
            k = min(int(np.searchsorted(self.view_qa_cum, rng.random())), len(self.view_qa_items) - 1)
            di, qi = self.view_qa_items[k]
            d = self.docs[di]
        q, a, f, fe = d.questions[qi]
        suffix = QA_PROMPT.format(text="", question=q)
        enc = self.encode(suffix + " " + a)
        s_codes = [C_ANSWER if o[0] >= len(suffix) else C_IGNORE for o in enc.offsets]
        extra = len(enc.ids) + 1
        if width is None:
            width = self.view_width(rng, room, extra)
            if width is None:
                return None
        horizon = width * ((1 << self.vs.get("cascades", 4)) - 1)
        if at_end is None:
            at_end = (len(d.text) - fe) / self.cpt < horizon and rng.random() < self.vs.get("end_prob", 0.0)
        if at_end:
            e = len(d.text)
        else:
            if distance is None:
                distance = (rng.uniform(0, horizon) if rng.random() < 0.5
                            else math.exp(rng.uniform(math.log(16), math.log(horizon))))
            e = d.end_at_or_after(fe + int(distance * self.cpt))
        v = self.doc_view(rng, d, e, width, self.vs.get("pick", "uniform"))
        if v is None:
            return None
        ids, offs, n_read = v
        if len(ids) + extra > room:
            return None
        fact_kept = sum(1 for o in offs if f <= o[0] < fe)
        if need_fact and not fact_kept:
            return None
        dist = self.tokens_after(d, fe, e) if measure else int(round((e - fe) / self.cpt))
        info = {"distance_tokens": dist, "width": width, "view_rows": len(ids),
                "read": n_read, "fact_tokens_kept": fact_kept, "at_end": bool(at_end), "answer": a, "question": q}
        out_ids = ids + enc.ids + [self.eos]
        out_codes = [C_IGNORE] * len(ids) + s_codes + [C_ANSWER]
        return out_ids, out_codes, info

    def summary_view(self, rng, room, d=None, width=None):
        """A summary asked after reading a whole document longer than the cache through it: the view, then
        "\nSummary:" and the gold summary cut to what the view reaches (Doc.visible_summary) and EOS."""
        if d is None:
            if not self.view_sum_ids:
                return None
            d = self.docs[self.view_sum_ids[int(rng.integers(len(self.view_sum_ids)))]]
        prompt = SUM_PROMPT.format(text="")
        if width is None:
            width = self.view_width(rng, room, 160)
            if width is None:
                return None
        v = self.doc_view(rng, d, len(d.text), width, self.vs.get("pick", "uniform"))
        if v is None:
            return None
        ids, offs, n_read = v
        S = self.vs.get("sinks", 64)
        since = offs[S][0] if len(offs) > S else 0
        target = d.visible_summary(since)
        enc = self.encode(prompt + " " + target)
        codes = [C_SUMMARY if o[0] >= len(prompt) else C_IGNORE for o in enc.offsets]
        if len(ids) + len(enc.ids) + 1 > room:
            return None
        return ids + enc.ids + [self.eos], [C_IGNORE] * len(ids) + codes + [C_SUMMARY], {"target": target, "read": n_read}

    def summary(self, rng, room, d=None):
        if d is None:
            k = bisect.bisect_right(self.sum_est, room - 4)
            if k == 0:
                return None
            d = self.docs[self.sum_ids[int(rng.integers(k))]]
        prompt = SUM_PROMPT.format(text=d.text)
        enc = self.encode(prompt + " " + d.summary)
        codes = [C_SUMMARY if o[0] >= len(prompt) else C_TEXT for o in enc.offsets]
        if len(enc.ids) + 2 > room:
            return None
        return [self.bos] + enc.ids + [self.eos], [C_IGNORE] + codes + [C_SUMMARY]

    def passkey(self, rng, room, n=None, depth=None, key=None, gaps=True):
        """A passkey episode: the eval's prompt (passkey_text) of a random length that fits `room`, the key
        at a random depth, then " NNNNN." and EOS. Only the answer is a target (the filler is trivial). With
        data.passkey.gap_prob, filler tokens are dropped at a random rate (and, half of those times, some
        non-digit tokens of the key sentence): a bounded cache shows the model such a gappy text with
        contiguous positions (positions = cache), and the key must still be found in it.
        Returns (ids, codes, info) or None."""
        pc = self.cfg["data"].get("passkey", {})
        if room < 96:
            return None
        self._tok()
        if key is None:
            key = f"{int(rng.integers(10000, 100000)):05d}"
        if depth is None:
            depth = float(rng.random())
        if n is None:  # prompt length (BOS included) biased to long: most of the filler is the hard part
            lo, hi = 48, room - 8
            target = lo + (hi - lo) * float(rng.random()) ** 0.5
            n = max(0, int(round((target - self.pk_fixed) / self.pk_tps)))
        for _ in range(6):
            before = int(round(depth * n))
            text = passkey_text(n, before, key)
            enc = self.encode(text + " " + key + ".")
            over = len(enc.ids) + 2 - room  # + BOS + EOS
            if over <= 0:
                break
            n = max(0, n - int(over / self.pk_tps) - 1)
        else:
            return None
        if over > 0:
            return None
        ids, offs = enc.ids, enc.offsets
        ans0 = len(text)
        ks = text.find(passkey_key_sentence(key), len(PK_TASK))
        ke = ks + len(passkey_key_sentence(key))
        qs = len(text) - len(PK_QUESTION)
        codes = [C_PASSKEY if o[0] >= ans0 else C_IGNORE for o in offs]
        keep = [True] * len(ids)
        gapped = gaps and rng.random() < pc.get("gap_prob", 0.0)
        if gapped and rng.random() < 0.5:  # thinned as a cascading cache would, the key's digits kept
            k1 = ks + len("The pass key is ")
            k2 = text.find(key, k1 + len(key))
            keep = cascade_thinning(rng, offs, sum(1 for o in offs if o[0] < ans0),
                                    [(0, len(PK_TASK)), (qs - 1, 1 << 30), (k1, k1 + len(key)), (k2, k2 + len(key))])
        elif gapped:  # filler dropped uniformly at a random rate
            keep = passkey_filler_thinning(rng, offs, text, (ks, ke), qs, pc.get("gap_max_rate", 0.8))
        ids, codes, dropped = keep_tokens(ids, codes, keep)
        out_ids = [self.bos] + ids + [self.eos]
        out_codes = [C_IGNORE] + codes + [C_PASSKEY]
        n_ans = sum(1 for o in offs if o[0] >= ans0)
        info = {"key": key, "depth": depth, "filler": n, "prompt_tokens": len(out_ids) - 1 - n_ans, "dropped": dropped}
        return out_ids, out_codes, info

    def row(self, i):
        import numpy as np
        self._tok()
        rng = np.random.default_rng([self.seed, i])
        ids, codes = [], []
        while len(ids) < self.L:
            room = self.L - len(ids)
            kind = int(rng.choice(len(self.mix), p=self.mix)) if room >= 160 else 0
            ep = None
            # (settings that are off draw no random numbers, so that rows stay as earlier phases made them)
            vq, vsum = self.vs.get("qa_prob", 0.0), self.vs.get("summary_prob", 0.0)
            if kind == 1:
                ep = self.qa_view(rng, room) if vq > 0 and rng.random() < vq else self.qa(rng, room)
            elif kind == 2:
                ep = self.summary_view(rng, room) if vsum > 0 and rng.random() < vsum else self.summary(rng, room)
            elif kind == 3:
                ep = self.passkey(rng, room)
            if ep is None:
                ep = self.narration(rng, room)
            ids += ep[0]
            codes += ep[1]
        return np.array(ids[: self.L], dtype=np.int32), np.array(codes[: self.L], dtype=np.int8)


class RowDataset:
    def __init__(self, builder, n, offset=0):
        self.b, self.n, self.offset = builder, n, offset

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.b.row(self.offset + i)


# ------------------------------------------------------------------------------------------------
# model (Hugging Face Llama semantics, HF parameter names, so that export and checks are direct)
# ------------------------------------------------------------------------------------------------
def build_model_classes():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class RMSNorm(nn.Module):
        def __init__(self, d, eps):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(d))
            self.eps = eps

        def forward(self, x):
            dt = x.dtype
            h = x.float()
            h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
            return self.weight * h.to(dt)

    def rotate_half(x):
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((-x2, x1), dim=-1)

    class Attn(nn.Module):
        def __init__(self, c):
            super().__init__()
            d, self.h, self.kv = c["hidden"], c["heads"], c["kv_heads"]
            self.hd = d // self.h
            self.q_proj = nn.Linear(d, self.h * self.hd, bias=False)
            self.k_proj = nn.Linear(d, self.kv * self.hd, bias=False)
            self.v_proj = nn.Linear(d, self.kv * self.hd, bias=False)
            self.o_proj = nn.Linear(self.h * self.hd, d, bias=False)

        def forward(self, x, cos, sin, cache=None):
            B, T, _ = x.shape
            q = self.q_proj(x).view(B, T, self.h, self.hd).transpose(1, 2)
            k = self.k_proj(x).view(B, T, self.kv, self.hd).transpose(1, 2)
            v = self.v_proj(x).view(B, T, self.kv, self.hd).transpose(1, 2)
            cos, sin = cos.to(q.dtype), sin.to(q.dtype)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            causal = True
            if cache is not None:
                if "k" in cache:
                    k = torch.cat([cache["k"], k], dim=2)
                    v = torch.cat([cache["v"], v], dim=2)
                    causal = T > 1
                    assert T == 1 or k.shape[2] == T
                cache["k"], cache["v"] = k, v
            rep = self.h // self.kv
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            return self.o_proj(y.transpose(1, 2).reshape(B, T, self.h * self.hd))

    class MLP(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.gate_proj = nn.Linear(c["hidden"], c["ffn"], bias=False)
            self.up_proj = nn.Linear(c["hidden"], c["ffn"], bias=False)
            self.down_proj = nn.Linear(c["ffn"], c["hidden"], bias=False)

        def forward(self, x):
            return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

    class Layer(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.input_layernorm = RMSNorm(c["hidden"], c["eps"])
            self.self_attn = Attn(c)
            self.post_attention_layernorm = RMSNorm(c["hidden"], c["eps"])
            self.mlp = MLP(c)

        def forward(self, x, cos, sin, cache=None):
            x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache)
            return x + self.mlp(self.post_attention_layernorm(x))

    class Inner(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.embed_tokens = nn.Embedding(c["vocab"], c["hidden"])
            self.layers = nn.ModuleList([Layer(c) for _ in range(c["layers"])])
            self.norm = RMSNorm(c["hidden"], c["eps"])

    class Llama(nn.Module):
        def __init__(self, c):
            super().__init__()
            assert c["tied"]
            self.c = c
            self.model = Inner(c)
            hd = c["hidden"] // c["heads"]
            inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
            self.register_buffer("inv_freq", inv, persistent=False)

        def rope(self, pos):  # pos: [T] int64 -> cos, sin [1,1,T,hd] float32 (as HF computes them)
            f = pos.float()[:, None] * self.inv_freq[None, :].float()
            emb = torch.cat((f, f), dim=-1)
            return emb.cos()[None, None], emb.sin()[None, None]

        def forward(self, ids, pos0=0, caches=None):
            T = ids.shape[1]
            cos, sin = self.rope(torch.arange(pos0, pos0 + T, device=ids.device))
            x = self.model.embed_tokens(ids)
            for i, layer in enumerate(self.model.layers):
                x = layer(x, cos, sin, None if caches is None else caches[i])
            x = self.model.norm(x)
            return x @ self.model.embed_tokens.weight.t().to(x.dtype)

    def init_weights(m, c):
        std = c["init_std"]
        out_std = std / math.sqrt(2 * c["layers"])
        with torch.no_grad():
            for n, p in m.named_parameters():
                if n.endswith("norm.weight") or n.endswith("layernorm.weight"):
                    p.fill_(1.0)
                elif n.endswith("o_proj.weight") or n.endswith("down_proj.weight"):
                    p.normal_(0.0, out_std)
                else:
                    p.normal_(0.0, std)

    return Llama, init_weights


# ------------------------------------------------------------------------------------------------
# evaluation
# ------------------------------------------------------------------------------------------------
def words(s):
    return re.findall(r"\w+", s.lower())


def rouge_l(pred, gold):
    """ROUGE-L F1 over lower-cased word tokens (LCS by dynamic programming)."""
    a, b = words(pred), words(gold)
    if not a or not b:
        return 0.0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            cur[j + 1] = prev[j] + 1 if x == y else max(prev[j + 1], cur[j])
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    p, r = lcs / len(a), lcs / len(b)
    return 2 * p * r / (p + r)


def greedy(model, prompt_ids, max_new, eos, device):
    """One prompt, with a KV cache (used on the CPU, where recomputing a padded batch is too slow)."""
    import torch
    caches = [dict() for _ in model.model.layers]
    out = []
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
        logits = model(torch.tensor([prompt_ids], device=device), 0, caches)
        pos = len(prompt_ids)
        for _ in range(max_new):
            t = int(logits[0, -1].float().argmax())
            if t == eos or pos >= model.c["ctx"]:
                break
            out.append(t)
            logits = model(torch.tensor([[t]], device=device), pos, caches)
            pos += 1
    return out


def generate(model, prompts, max_new, eos, device, bs=64):
    if device == "cpu":
        return [greedy(model, p, max_new, eos, device) for p in prompts]
    return batch_greedy(model, prompts, max_new, eos, device, bs)


def batch_greedy(model, prompts, max_new, eos, device, bs=64):
    """Greedy continuations of many prompts at once, without a KV cache: rows are right-padded, and since
    attention is causal a row's padding never affects its own positions; each step runs the batch up to
    the longest current row and appends each row's argmax at its own end. Returns token lists (no EOS)."""
    import torch
    ctx = model.c["ctx"]
    outs = [None] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    for k in range(0, len(order), bs):
        idx = order[k:k + bs]
        b = len(idx)
        lens = [len(prompts[i]) for i in idx]
        width = min(ctx, max(lens) + max_new)
        x = torch.full((b, width), eos, dtype=torch.long)
        for r, i in enumerate(idx):
            x[r, :lens[r]] = torch.tensor(prompts[i])
        x = x.to(device)
        res = [[] for _ in range(b)]
        done = [False] * b
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            for _ in range(max_new):
                cur = max(lens[r] for r in range(b) if not done[r])
                logits = model(x[:, :cur])
                pos = torch.tensor([min(lens[r], cur) - 1 for r in range(b)], device=device)  # done rows: ignored
                nxt = logits[torch.arange(b, device=device), pos].float().argmax(-1).tolist()
                for r in range(b):
                    if done[r]:
                        continue
                    t = nxt[r]
                    if t == eos or lens[r] >= width:
                        done[r] = True
                        continue
                    res[r].append(t)
                    x[r, lens[r]] = t
                    lens[r] += 1
                if all(done):
                    break
        for r, i in enumerate(idx):
            outs[i] = res[r]
    return outs


def qa_cases(builder, docs, n_docs, per_doc, seed, max_new):
    """Held-out questions: whole document when it fits the trained context with room for the answer,
    else a window ending at a sentence end with the fact at a random depth (0..max_depth)."""
    import numpy as np
    rng = np.random.default_rng([seed, 7])
    L = builder.L
    cases = []
    for d in docs[:n_docs]:
        if not d.questions:
            continue
        for qi in rng.permutation(len(d.questions))[:per_doc]:
            q, a, f, fe = d.questions[int(qi)]
            whole = builder.encode(QA_PROMPT.format(text=d.text, question=q)).ids
            if len(whole) + 1 + max_new <= L:
                ids = whole
                tail = builder.encode(QA_PROMPT.format(text=d.text[fe:], question=q)).ids
                cases.append({"doc_id": d.doc_id, "mode": "whole", "ids": [builder.bos] + ids, "answer": a,
                              "question": q, "depth_tokens": len(tail), "prompt_tokens": len(ids) + 1})
                continue
            ep = builder.qa(rng, L - max_new, d=d, qi=int(qi), fixed=True)
            if ep is None:
                continue
            ids, codes, info = ep
            p = [t for t, c in zip(ids, codes) if c != C_ANSWER]
            cases.append({"doc_id": d.doc_id, "mode": "window", "ids": p, "answer": a, "question": q,
                          "depth_tokens": info["depth_tokens"], "prompt_tokens": len(p)})
    return cases


def qa_view_cases(builder, docs, distances, width, n_docs, per_doc, seed, max_new):
    """Held-out questions asked after reading the document through a cascading cache of width W, as one KV head
    holds it (RowBuilder.qa_view): `distances` tokens after the fact (the next sentence end; skipped when the
    document ends sooner) and at the document's end ("end", asked whether or not the fact is within reach)."""
    import numpy as np
    rng = np.random.default_rng([seed, 13])
    cases = []
    for d in docs[:n_docs]:
        if not d.questions:
            continue
        for qi in rng.permutation(len(d.questions))[:per_doc]:
            for dist in list(distances) + ["end"]:
                ep = builder.qa_view(rng, builder.L - max_new, d=d, qi=int(qi), distance=None if dist == "end" else dist,
                                     width=width, at_end=dist == "end", need_fact=False, measure=True)
                if ep is None:
                    continue
                ids, codes, info = ep
                if dist != "end" and info["distance_tokens"] < 0.9 * dist:
                    continue
                p = [t for t, c in zip(ids, codes) if c != C_ANSWER]
                cases.append({"doc_id": d.doc_id, "mode": f"view-{dist}", "bucket": str(dist), "ids": p,
                              "answer": info["answer"], "question": info["question"],
                              "depth_tokens": info["distance_tokens"], "prompt_tokens": len(p),
                              "fact_tokens_kept": info["fact_tokens_kept"], "read": info["read"]})
    return cases


def summarize_qa_view(res, cases, horizon):
    """Exact match per requested distance, and at the document's end split by whether the fact is within reach."""
    by = {}
    for r, c in zip(res, cases):
        b = c["bucket"]
        if b == "end":
            b = "end, fact within reach" if c["depth_tokens"] < horizon else "end, fact beyond reach"
        by.setdefault(b, []).append(r["em"])
        if c["fact_tokens_kept"] == 0:
            by.setdefault("nothing of the fact kept", []).append(r["em"])
    return {"n": len(res), "horizon_tokens": horizon,
            "exact_match_by_distance": {k: {"n": len(v), "em": sum(v) / len(v)} for k, v in by.items()}}


def eval_summaries_view(model, tok, builder, docs, n, width, eos, device, max_new, seed):
    """Summaries of held-out documents longer than the cache, read through a view of width W: ROUGE-L F1
    against the gold summary cut to what the view reaches (the training target) and against the whole gold."""
    import numpy as np
    rng = np.random.default_rng([seed, 17])
    full = builder.vs.get("sinks", 64) + width * builder.vs.get("cascades", 4)
    sel = []
    for d in docs:
        if len(sel) >= n:
            break
        if not d.summary or d.est_tokens < full * 1.2:
            continue
        ep = builder.summary_view(rng, builder.L, d=d, width=width)
        if ep is None:
            continue
        ids, codes, info = ep
        sel.append((d, [t for t, c in zip(ids, codes) if c == C_IGNORE], info))
    gens = generate(model, [p for _, p, _ in sel], max_new, eos, device, bs=16)
    res = []
    for (d, p, info), gen in zip(sel, gens):
        text = tok.decode(gen, skip_special_tokens=True).strip()
        res.append({"doc_id": d.doc_id, "read": info["read"], "target": info["target"], "pred": text,
                    "rouge_l_f1_visible": rouge_l(text, info["target"]), "rouge_l_f1_gold": rouge_l(text, d.summary)})
    return res


def eval_qa(model, tok, cases, eos, device, max_new):
    res = []
    gens = generate(model, [c["ids"] for c in cases], max_new, eos, device)
    for c, gen in zip(cases, gens):
        text = tok.decode(gen, skip_special_tokens=True).strip()
        res.append({"doc_id": c["doc_id"], "mode": c["mode"], "depth_tokens": c["depth_tokens"],
                    "prompt_tokens": c["prompt_tokens"], "question": c["question"], "gold": c["answer"],
                    "pred": text, "em": text == c["answer"],
                    "em_norm": " ".join(words(text)) == " ".join(words(c["answer"]))})
    return res


def summarize_qa(res):
    out = {"n": len(res)}
    if not res:
        return out
    out["exact_match"] = sum(r["em"] for r in res) / len(res)
    out["exact_match_normalized"] = sum(r["em_norm"] for r in res) / len(res)
    by = {}
    for r in res:
        b = f"{(r['depth_tokens'] // 256) * 256}-{(r['depth_tokens'] // 256) * 256 + 255}"
        by.setdefault(b, []).append(r["em"])
    out["exact_match_by_depth_tokens"] = {k: {"n": len(v), "em": sum(v) / len(v)}
                                          for k, v in sorted(by.items(), key=lambda kv: int(kv[0].split("-")[0]))}
    kinds = {}
    for r in res:  # the corpus' question templates: where did X hide/lose, what did X give, how many, born
        kinds.setdefault(question_kind(r["question"]), []).append(r["em"])
    out["exact_match_by_question_kind"] = {k: {"n": len(v), "em": sum(v) / len(v)} for k, v in sorted(kinds.items())}
    for m in ("whole", "window"):
        v = [r["em"] for r in res if r["mode"] == m]
        if v:
            out[f"exact_match_{m}"] = {"n": len(v), "em": sum(v) / len(v)}
    return out


_PK_NUMBER = re.compile(r"\d(?: \d(?!\d))+|\d+")


def passkey_first_number(answer):
    """PasskeyScore.firstNumber: the first number of the answer; single digits separated by spaces count as one."""
    m = _PK_NUMBER.search(answer)
    return m.group().replace(" ", "") if m else ""


def passkey_cases(builder, lengths, n_depths, trials, seed):
    """Prompts as PasskeyPrompt.build makes them: the filler count n from the target length, corrected up to
    four times until the prompt is within 1% of it; the key before filler sentence round(depth * n)."""
    import numpy as np
    builder._tok()
    rng = np.random.default_rng([seed, 11])
    jround = lambda x: int(math.floor(x + 0.5))  # noqa: E731  Java's Math.round
    cases = []
    for length in lengths:
        for di in range(n_depths):
            depth = di / (n_depths - 1) if n_depths > 1 else 0.5
            for _ in range(trials):
                key = f"{int(rng.integers(10000, 100000)):05d}"

                def make(n):
                    return [builder.bos] + builder.encode(passkey_text(n, jround(depth * n), key)).ids

                n = max(0, jround((length - builder.pk_fixed) / builder.pk_tps))
                ids = make(n)
                for _ in range(4):
                    if abs(len(ids) - length) <= length // 100:
                        break
                    n = max(0, n + jround((length - len(ids)) / builder.pk_tps))
                    ids = make(n)
                cases.append({"length": length, "depth": depth, "key": key, "ids": ids})
    return cases


def eval_passkey(model, tok, cases, eos, device, max_new=12):
    """Greedy answers (12 tokens, as `eval passkey`), full attention; correct when the first number is the key."""
    gens = generate(model, [c["ids"] for c in cases], max_new, eos, device, bs=32)
    res = []
    for c, g in zip(cases, gens):
        ans = tok.decode(g, skip_special_tokens=True)
        res.append({"length": c["length"], "prompt_tokens": len(c["ids"]), "depth": c["depth"], "key": c["key"],
                    "answer": ans, "correct": passkey_first_number(ans) == c["key"]})
    by = {}
    for r in res:
        by.setdefault(r["length"], []).append(r["correct"])
    return res, {"n": len(res), "accuracy": sum(r["correct"] for r in res) / max(1, len(res)),
                 "accuracy_by_length": {str(k): sum(v) / len(v) for k, v in sorted(by.items())}}


def eval_summaries(model, tok, builder, docs, n, eos, device, max_new):
    """Held-out documents whose text, the prompt and max_new tokens fit the trained context."""
    sel = []
    for d in docs:
        if len(sel) >= n:
            break
        if not d.summary:
            continue
        ids = builder.encode(SUM_PROMPT.format(text=d.text)).ids
        if len(ids) + 1 + max_new > builder.L:
            continue
        sel.append((d, [builder.bos] + ids))
    gens = generate(model, [p for _, p in sel], max_new, eos, device, bs=32)
    res = []
    for (d, p), gen in zip(sel, gens):
        text = tok.decode(gen, skip_special_tokens=True).strip()
        res.append({"doc_id": d.doc_id, "prompt_tokens": len(p), "gold": d.summary, "pred": text,
                    "rouge_l_f1": rouge_l(text, d.summary)})
    return res


# ------------------------------------------------------------------------------------------------
# train
# ------------------------------------------------------------------------------------------------
def cmd_train(args, cfg):
    os.environ.setdefault("RAYON_NUM_THREADS", str(os.cpu_count() or 8))
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    t_start = time.time()
    import numpy as np
    import torch
    import torch.nn.functional as F
    gw, mf = import_reference()
    os.makedirs(args.out, exist_ok=True)
    logf = open(os.path.join(args.out, "train-log.jsonl"), "w")

    seed = cfg["seed"]
    tc, dc, ec = cfg["train"], cfg["data"], cfg["eval"]
    if args.steps is not None:
        tc["steps"] = args.steps
    if args.time_budget is not None:
        tc["time_budget_s"] = args.time_budget
    if args.lr is not None:
        tc["lr"] = args.lr
    if args.warmup is not None:
        tc["warmup_steps"] = args.warmup
    if args.answer_weight is not None:
        dc["loss_weights"]["answer"] = args.answer_weight
    if args.episode_mix is not None:
        mix = [float(v) for v in args.episode_mix.split(",")]
        if len(mix) not in (3, 4) or abs(sum(mix) - 1) > 1e-6:
            sys.exit(f"--episode-mix {args.episode_mix}: give 3 or 4 probabilities (narration,qa,summary[,passkey]) that sum to 1")
        dc["episode_mix"] = dict(zip(EPISODE_KINDS, mix))
    if args.passkey_weight is not None:
        dc["loss_weights"]["passkey"] = args.passkey_weight
    if args.passkey_gap_prob is not None:
        dc.setdefault("passkey", {})["gap_prob"] = args.passkey_gap_prob
    if args.qa_whole_prob is not None:
        dc["qa_whole_prob"] = args.qa_whole_prob
    if args.qa_gap_prob is not None:
        dc["qa_gap_prob"] = args.qa_gap_prob
    if args.batch_rows is not None:
        tc["batch_rows"] = args.batch_rows
    if args.qa_kind_weights is not None:
        dc["qa_kind_weights"] = {k: float(v) for k, v in (kv.split("=") for kv in args.qa_kind_weights.split(","))}
    apply_overrides(args, cfg)
    prev = None  # a continued run: the earlier phase's log and summary
    if args.prev_run:
        with open(os.path.join(args.prev_run, "train-log.jsonl")) as f:
            prev_hist = [json.loads(line) for line in f if line.strip()]
        with open(os.path.join(args.prev_run, "training.json")) as f:
            prev = json.load(f)
        prev["hist"] = prev_hist
    if args.smoke:
        ec.update(qa_docs=12, qa_per_doc=2, summary_docs=4, q8_qa_cases=6, summary_max_new=64,
                  passkey_lengths=[256, 512], passkey_depths=3, passkey_trials=1, view_qa_docs=3,
                  view_summary_docs=2, view_distances=[256, 2048])
        tc["val_rows"] = 8
        tc["val_every"] = 20
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        log(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, cpus {os.cpu_count()}")

    tok = load_tokenizer(args.tokenizer)
    tok_json = tok.to_str()
    mc, s = model_spec(cfg, tok)

    t0 = time.time()
    raw_train = load_docs(args.train)
    raw_held = load_docs(args.heldout)
    cpt = chars_per_token(tok, (d["text"] for d in raw_train[:200]))
    cpt_held = chars_per_token(tok, (d["text"] for d in raw_held[:200]))
    train_docs = [Doc(d, cpt) for d in raw_train]
    held_docs = [Doc(d, cpt_held) for d in raw_held]
    del raw_train, raw_held
    n_chars = sum(len(d.text) for d in train_docs)
    n_q = sum(len(d.questions) for d in train_docs)
    log(f"corpus: {len(train_docs)} train docs ({n_chars / 1e6:.1f}M chars, ~{n_chars / cpt / 1e6:.1f}M tokens, "
        f"{n_q} questions), {len(held_docs)} held-out docs; {cpt:.2f} chars/token; {time.time() - t0:.1f}s")

    builder = RowBuilder(train_docs, tok_json, cfg, seed, cpt)
    vbuilder = RowBuilder(held_docs, tok_json, cfg, seed + 1, cpt_held)
    log(f"rows: {len(builder.long_ids)} narration docs, {len(builder.qa_ids)} QA docs, "
        f"{len(builder.sum_ids)} summary-sized docs (train); {len(vbuilder.sum_ids)} (held-out)")

    Llama, init_weights = build_model_classes()
    model = Llama(mc).to(device)
    init_weights(model, mc)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {json.dumps(mc)}; {n_params / 1e6:.2f}M parameters")
    if args.init_gguf:  # continue from exported weights (the optimizer starts fresh)
        _, tensors, _ = gw.read_gguf(args.init_gguf)
        eff = mf.hf_from_gguf(s, tensors)
        model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in eff.items()}, strict=True)
        log(f"initialised from {args.init_gguf}")

    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tc["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=tc["lr"], betas=tuple(tc["betas"]), eps=1e-8, fused=device == "cuda")

    weights = torch.zeros(len(CODE_NAMES) + 1, device=device)
    for c, name in CODE_NAMES.items():
        weights[c] = dc["loss_weights"].get(name, 0.0)

    def fwd_loss(m, x, y):
        logits = m(x)
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.reshape(-1), reduction="none").view(y.shape)

    step_fn = torch.compile(fwd_loss) if (tc["compile"] and device == "cuda") else fwd_loss

    B, L = tc["batch_rows"], dc["seq_len"]
    max_steps = tc.get("steps") or 100000
    step0 = prev["steps"] if prev else 0  # rows continue after the earlier phase's, so the data is new
    ds = RowDataset(builder, max_steps * B, offset=step0 * B)
    dl = torch.utils.data.DataLoader(ds, batch_size=B, shuffle=False, num_workers=tc["workers"],
                                     pin_memory=device == "cuda", prefetch_factor=6, persistent_workers=False,
                                     drop_last=True)
    val_rows = [vbuilder.row(i) for i in range(tc["val_rows"])]
    vx = torch.tensor(np.stack([r[0] for r in val_rows]), dtype=torch.long, device=device)
    vc = torch.tensor(np.stack([r[1] for r in val_rows]), dtype=torch.long, device=device)

    def val_loss():
        model.eval()
        tot = {k: [0.0, 0] for k in ("all", *CODE_NAMES.values())}
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            for j in range(0, len(vx), 8):
                x, c = vx[j:j + 8], vc[j:j + 8]
                ce = fwd_loss(model, x[:, :-1], x[:, 1:])
                cc = c[:, 1:]
                w = weights[cc]
                tot["all"][0] += float((ce * w).sum())
                tot["all"][1] += float(w.sum())
                for code, name in CODE_NAMES.items():
                    msk = cc == code
                    tot[name][0] += float(ce[msk].sum())
                    tot[name][1] += int(msk.sum())
        model.train()
        return {k: (s / n if n else None) for k, (s, n) in tot.items()}

    total_steps = tc.get("steps")
    warm = tc["warmup_steps"]

    def lr_at(s):
        if s < warm:
            return tc["lr"] * (s + 1) / warm
        frac = min(1.0, (s - warm) / max(1, total_steps - warm))
        return tc["lr"] * (tc["min_lr_frac"] + (1 - tc["min_lr_frac"]) * 0.5 * (1 + math.cos(math.pi * frac)))

    log(f"setup done in {time.time() - t_start:.1f}s; training")
    model.train()
    t_train = time.time()
    t_measure = None
    step = 0
    hist = []
    tokens_seen = 0
    code_tokens = np.zeros(len(CODE_NAMES) + 1, dtype=np.int64)
    it = iter(dl)
    # a step count fitted to --time-budget assumes the speed of steps 10-30 holds; should it not (the data
    # workers falling behind, say), training stops anyway at 1.1x the budget, so that what follows still runs
    hard_stop_s = 1.1 * tc["time_budget_s"] if total_steps is None else None
    stopped_early = False
    while True:
        if total_steps is not None and step >= total_steps:
            break
        if hard_stop_s is not None and time.time() - t_train > hard_stop_s:
            log(f"hard stop at step {step} of {total_steps}: {time.time() - t_train:.0f}s > {hard_stop_s:.0f}s")
            stopped_early = True
            break
        xb, cb = next(it)
        x = xb.to(device, non_blocking=True).long()
        c = cb.to(device, non_blocking=True).long()
        for g in opt.param_groups:
            g["lr"] = lr_at(step) if total_steps is not None else tc["lr"] * (step + 1) / warm
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            ce = step_fn(model, x[:, :-1], x[:, 1:])
        cc = c[:, 1:]
        w = weights[cc]
        loss = (ce * w).sum() / w.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), tc["grad_clip"])
        opt.step()
        step += 1
        tokens_seen += x.numel()
        if step % tc["log_every"] == 0 or step == 1:
            with torch.no_grad():
                rec = {"step": step0 + step, "loss": float(loss), "grad_norm": float(gn), "lr": opt.param_groups[0]["lr"],
                       "tokens": tokens_seen + (prev["tokens"] if prev else 0), "elapsed_s": time.time() - t_train}
                for code, name in CODE_NAMES.items():
                    msk = cc == code
                    n = int(msk.sum())
                    code_tokens[code] += n
                    rec[f"loss_{name}"] = float(ce[msk].mean()) if n else None
            if step % tc["val_every"] == 0:
                rec["val"] = val_loss()
            hist.append(rec)
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            tps = tokens_seen / max(1e-9, time.time() - t_train)
            log(f"step {step}/{total_steps} loss {rec['loss']:.4f} text {rec['loss_text']} answer {rec['loss_answer']} "
                f"summary {rec['loss_summary']} passkey {rec['loss_passkey']} lr {rec['lr']:.2e} gn {rec['grad_norm']:.2f} "
                f"{tps / 1e3:.0f}k tok/s" + (f" val {rec['val']}" if "val" in rec else ""))
        if total_steps is None and step == 10:
            torch.cuda.synchronize() if device == "cuda" else None
            t_measure = time.time()
        if total_steps is None and step == tc["measure_after"]:
            torch.cuda.synchronize() if device == "cuda" else None
            dt = (time.time() - t_measure) / (tc["measure_after"] - 10)
            left = tc["time_budget_s"] - (time.time() - t_train)
            total_steps = max(step + 1, step + int(left / dt))
            log(f"measured {dt * 1000:.0f} ms/step ({B * L / dt / 1e6:.2f}M tok/s); total steps {total_steps}")
    if device == "cuda":
        torch.cuda.synchronize()
    train_s = time.time() - t_train
    del it, dl
    final_val = val_loss()
    log(f"trained {step} steps, {tokens_seen / 1e6:.1f}M tokens in {train_s:.0f}s; val {final_val}")

    # ---------------- export ----------------
    t0 = time.time()
    w = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    btok = bpe_tok(mf, tok)
    files = {}
    for variant in ("F16", "Q8_0"):
        wr = gw.GGUFWriter()
        md = mf.gguf_metadata("demo", s, variant)
        md["general.name"] = f"cascade-lm demo ({n_params / 1e6:.1f}M, trained on the generated corpus)"
        for k, v in md.items():
            wr.add(k, v)
        for k, v in btok.gguf_metadata().items():
            wr.add(k, v)
        vt = gw.TYPE_BY_NAME[variant]
        for tname, arr, kind in mf.gguf_tensors(s, w):
            wr.add_tensor(tname, arr, vt if kind == "2d" else gw.F32)
        path = os.path.join(args.out, f"demo-{variant}.gguf")
        n = wr.write(path)
        files[variant] = {"path": path, "bytes": n}
        log(f"wrote {path}: {n / 1e6:.2f} MB")
    log(f"export {time.time() - t0:.1f}s")

    training = {"steps": step, "batch_rows": B, "seq_len": L, "tokens": tokens_seen, "train_wall_s": round(train_s, 1),
                "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu", "torch": torch.__version__,
                "chars_per_token": round(cpt, 3), "final_val_loss": final_val,
                "lr": tc["lr"], "warmup_steps": tc["warmup_steps"]}
    if stopped_early:
        training["stopped_early_of_steps"] = total_steps
    logf.close()
    if prev:
        phase = dict(training, init_gguf=args.init_gguf, first_row=step0 * B,
                     train_files=[os.path.basename(p) for p in args.train],
                     data={k: dc[k] for k in ("seq_len", "max_depth_tokens", "episode_mix", "loss_weights", "qa_kind_weights",
                                              "qa_whole_prob", "qa_gap_prob", "passkey", "view") if k in dc})
        phases = prev.get("phases") or [{k: v for k, v in prev.items() if k not in ("hist", "phases")}]
        training = dict(training, steps=step0 + step, tokens=prev["tokens"] + tokens_seen,
                        train_wall_s=round(prev["train_wall_s"] + train_s, 1), phases=phases + [phase])
        hist = prev["hist"] + hist
        with open(os.path.join(args.out, "train-log.jsonl"), "w") as f:
            for r in hist:
                f.write(json.dumps(r) + "\n")
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(training, f, indent=1)
    evaluate_exported(args.out, cfg, mc, s, files, tok, held_docs, hist, training, device, t_start)


def apply_overrides(args, cfg):
    """--seq-len N (the rows' length and the model's trained context, written to the GGUF) and --set KEY=JSON
    (any setting by its dotted path in config.json, e.g. data.view.qa_prob=0.6)."""
    if getattr(args, "seq_len", None):
        cfg["data"]["seq_len"] = args.seq_len
        cfg["model"]["ctx"] = args.seq_len
    for kv in getattr(args, "set", None) or []:
        key, _, val = kv.partition("=")
        node, parts = cfg, key.split(".")
        for k in parts[:-1]:
            node = node.setdefault(k, {})
        try:
            node[parts[-1]] = json.loads(val)
        except json.JSONDecodeError:
            sys.exit(f"--set {kv}: the value must be JSON (a number, true/false, a quoted string, a list or an object)")


def model_spec(cfg, tok):
    """The fixture-style spec dict that make_fixtures' export helpers take, for this config + tokenizer."""
    mc = dict(cfg["model"])
    mc["vocab"] = tok.get_vocab_size(with_added_tokens=True)
    bos_id, eos_id = tok.token_to_id(BOS), tok.token_to_id(EOS)
    s = dict(arch="llama", seed=cfg["seed"], vocab=mc["vocab"], hidden=mc["hidden"], heads=mc["heads"],
             kv_heads=mc["kv_heads"], ffn=mc["ffn"], layers=mc["layers"], rope_theta=float(mc["rope_theta"]),
             eps=mc["eps"], tied=True, embed_std=None, qkv_bias=False, ctx=mc["ctx"], rope_scaling=None,
             bos_id=bos_id, eos_id=eos_id, pad_id=eos_id)
    return mc, s


def final_train_losses(hist):
    """Mean of the last five logged train losses (one step's loss is noisy)."""
    import numpy as np
    tail = hist[-5:]
    out = {}
    for k in ("loss", "loss_text", "loss_answer", "loss_summary", "loss_passkey"):
        v = [h[k] for h in tail if h.get(k) is not None]
        out[k] = float(np.mean(v)) if v else None
    return out


def evaluate_exported(out, cfg, mc, s, files, tok, held_docs, hist, training, device, t_start):
    """Evaluation from the exported GGUF weights (F16 and Q8_0), reference logits, metrics.json, curve."""
    import numpy as np
    import torch
    gw, mf = import_reference()
    Llama, _ = build_model_classes()
    ec = cfg["eval"]
    seed = cfg["seed"]
    bos_id, eos_id = s["bos_id"], s["eos_id"]
    n_params = None
    # the held-out documents' own chars/token (windows are cut by estimate, then checked in tokens)
    cpt_held = chars_per_token(tok, (d.text for d in held_docs[:200]))
    vbuilder = RowBuilder(held_docs, tok.to_str(), cfg, seed + 1, cpt_held)
    vbuilder._tok()

    def load_from_gguf(path):
        meta, tensors, _ = gw.read_gguf(path)
        eff = mf.hf_from_gguf(s, tensors)
        m = Llama(mc).to(device)
        m.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in eff.items()}, strict=True)
        return m.eval(), eff

    t0 = time.time()
    m16, eff16 = load_from_gguf(files["F16"]["path"])
    n_params = sum(p.numel() for p in m16.parameters())
    # validation loss of the exported F16 weights on the same held-out rows as during training
    import torch.nn.functional as F
    rows = [vbuilder.row(i) for i in range(cfg["train"]["val_rows"])]
    vx = torch.tensor(np.stack([r[0] for r in rows]), dtype=torch.long, device=device)
    vc = torch.tensor(np.stack([r[1] for r in rows]), dtype=torch.long, device=device)
    tot = {k: [0.0, 0] for k in CODE_NAMES.values()}
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
        for j in range(0, len(vx), 8):
            x, c = vx[j:j + 8], vc[j:j + 8]
            lg = m16(x[:, :-1])
            ce = F.cross_entropy(lg.float().reshape(-1, lg.shape[-1]), x[:, 1:].reshape(-1), reduction="none")
            cc = c[:, 1:].reshape(-1)
            for code, name in CODE_NAMES.items():
                msk = cc == code
                tot[name][0] += float(ce[msk].sum())
                tot[name][1] += int(msk.sum())
    val16 = {k: (a / n if n else None) for k, (a, n) in tot.items()}
    log(f"val loss (F16 weights): {val16}")
    cases = qa_cases(vbuilder, held_docs, ec["qa_docs"], ec["qa_per_doc"], seed, ec["qa_max_new"])
    qa16 = eval_qa(m16, tok, cases, eos_id, device, ec["qa_max_new"])
    q16 = summarize_qa(qa16)
    log(f"QA F16: {json.dumps(q16)} ({time.time() - t0:.0f}s)")
    t0 = time.time()
    su = eval_summaries(m16, tok, vbuilder, held_docs, ec["summary_docs"], eos_id, device, ec["summary_max_new"])
    rl = float(np.mean([r["rouge_l_f1"] for r in su])) if su else None
    log(f"summary ROUGE-L F1 (F16): {rl} over {len(su)} docs ({time.time() - t0:.0f}s)")
    qv = qvs = sv = None
    vw = ec.get("view_width", 0)
    if vw:  # questions and summaries after reading through the cache (one KV head's view; cache_view.py)
        t0 = time.time()
        horizon = vw * ((1 << vbuilder.vs.get("cascades", 4)) - 1)
        vcases = qa_view_cases(vbuilder, [d for d in held_docs if d.est_tokens > 2 * vw], ec["view_distances"], vw,
                               ec["view_qa_docs"], ec["qa_per_doc"], seed, ec["qa_max_new"])
        qv = eval_qa(m16, tok, vcases, eos_id, device, ec["qa_max_new"])
        for r, c in zip(qv, vcases):
            r.update(bucket=c["bucket"], fact_tokens_kept=c["fact_tokens_kept"], read=c["read"])
        qvs = summarize_qa_view(qv, vcases, horizon)
        log(f"QA through the cache view (W={vw}), F16: {json.dumps(qvs)} ({time.time() - t0:.0f}s)")
        t0 = time.time()
        sv = eval_summaries_view(m16, tok, vbuilder, held_docs, ec["view_summary_docs"], vw, eos_id, device,
                                 ec["summary_max_new"], seed)
        log(f"summaries through the cache view (W={vw}), F16: ROUGE-L vs visible gold "
            f"{np.mean([r['rouge_l_f1_visible'] for r in sv]) if sv else None}, vs whole gold "
            f"{np.mean([r['rouge_l_f1_gold'] for r in sv]) if sv else None} over {len(sv)} docs ({time.time() - t0:.0f}s)")
    t0 = time.time()
    m8, eff8 = load_from_gguf(files["Q8_0"]["path"])
    cases8 = cases[: ec["q8_qa_cases"]]
    qa8 = eval_qa(m8, tok, cases8, eos_id, device, ec["qa_max_new"])
    q8 = summarize_qa(qa8)
    log(f"QA Q8_0: {json.dumps(q8)} ({time.time() - t0:.0f}s)")
    t0 = time.time()
    pk_cases = passkey_cases(vbuilder, ec.get("passkey_lengths", [256, 512, 1024, 2000]), ec.get("passkey_depths", 10),
                             ec.get("passkey_trials", 2), seed)
    pk16, pks16 = eval_passkey(m16, tok, pk_cases, eos_id, device)
    pk8, pks8 = eval_passkey(m8, tok, pk_cases, eos_id, device)
    log(f"passkey (full attention) F16: {json.dumps(pks16)}; Q8_0: {json.dumps(pks8)} ({time.time() - t0:.0f}s)")
    del m16, m8
    # ---------------- reference logits (HF transformers, CPU float32) of a fixed prompt ----------------
    t0 = time.time()
    n_lp = ec["logits_prompt_tokens"]
    lp_text = held_docs[0].text[:2000]
    lp_ids = [bos_id] + tok.encode(lp_text, add_special_tokens=False).ids[: n_lp - 1]
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    ref = {"what": "logits of Hugging Face LlamaForCausalLM (transformers, float32, CPU, eager attention) loaded "
                   "with the weights as dequantized from the GGUF file, for prompt ids (BOS + the first tokens of "
                   "held-out document 0); row i predicts the token after ids[i]",
           "prompt_text": tok.decode(lp_ids, skip_special_tokens=True), "ids": lp_ids, "variants": {}}
    import gguf_forward
    for variant, eff in (("F16", eff16), ("Q8_0", eff8)):
        hf = mf.hf_model(s)
        mf.load_weights(hf, s, eff)
        lg = mf.run_logits(hf, lp_ids)
        np_lg = gguf_forward.forward(files[variant]["path"], lp_ids)
        mine = Llama(mc).float()
        mine.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in eff.items()})
        with torch.no_grad():
            my_lg = mine(torch.tensor([lp_ids]))[0].numpy()
        top = np.argsort(-lg, axis=1)[:, :5]
        ref["variants"][variant] = {
            "gguf": os.path.basename(files[variant]["path"]),
            "gguf_bytes": files[variant]["bytes"],
            "argmax": lg.argmax(-1).tolist(),
            "top5_ids": top.tolist(),
            "top5_logits": [[round(float(lg[i, j]), 5) for j in row] for i, row in enumerate(top)],
            "last_position_logits": [round(float(v), 5) for v in lg[-1]],
            "max_abs_diff_numpy_gguf_forward_float64": float(np.abs(np_lg - lg).max()),
            "max_abs_diff_training_model_float32": float(np.abs(my_lg - lg).max()),
        }
        log(f"HF logits {variant}: numpy-gguf diff {ref['variants'][variant]['max_abs_diff_numpy_gguf_forward_float64']:.3g}, "
            f"training-model diff {ref['variants'][variant]['max_abs_diff_training_model_float32']:.3g}")
        # greedy continuation with HF for the Java check
        if variant == "F16":
            hf_new, loop_new, margin = mf.run_greedy(hf, lp_ids[:20])
            ref["variants"][variant]["greedy"] = {"prompt_ids": lp_ids[:20], "new_ids": hf_new,
                                                  "min_top1_minus_top2_logit": margin,
                                                  "text": tok.decode(hf_new, skip_special_tokens=False)}
    with open(os.path.join(out, "demo.hf-logits.json"), "w") as f:
        json.dump(ref, f, indent=1)
    log(f"reference logits {time.time() - t0:.1f}s")

    # ---------------- metrics, curve ----------------
    metrics = {
        "model": {**mc, "parameters": n_params, "arch": "llama", "tokenizer": "byte-level BPE (gpt2 / llama-bpe)"},
        "training": {**training, "final_train_loss_mean_last5_logs": final_train_losses(hist), "config": cfg},
        "val_loss_F16_weights": val16,
        "qa_exact_match_F16": q16,
        "qa_exact_match_Q8_0": q8,
        "summary_rouge_l_f1_F16": {"n": len(su), "mean": rl},
        "passkey_full_attention_F16": pks16,
        "passkey_full_attention_Q8_0": pks8,
        "qa_cache_view_F16": qvs,
        "summary_cache_view_F16": None if sv is None else {
            "n": len(sv), "width": vw,
            "rouge_l_f1_vs_visible_gold": float(np.mean([r["rouge_l_f1_visible"] for r in sv])) if sv else None,
            "rouge_l_f1_vs_whole_gold": float(np.mean([r["rouge_l_f1_gold"] for r in sv])) if sv else None},
        "files": {k: {"name": os.path.basename(v["path"]), "bytes": v["bytes"]} for k, v in files.items()},
        "prompt_formats": {"qa": QA_PROMPT + " <answer>" + EOS, "summary": SUM_PROMPT + " <summary>" + EOS,
                           "bos": "added (tokenizer.ggml.add_bos_token = true)"},
        "eval_device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
    }
    with open(os.path.join(out, "eval-qa.jsonl"), "w") as f:
        for r in qa16:
            f.write(json.dumps(r) + "\n")
    with open(os.path.join(out, "eval-summary.jsonl"), "w") as f:
        for r in su:
            f.write(json.dumps(r) + "\n")
    for name, rows in (("eval-qa-view.jsonl", qv), ("eval-summary-view.jsonl", sv)):
        if rows is not None:
            with open(os.path.join(out, name), "w") as f:
                for r in rows:
                    f.write(json.dumps(r) + "\n")
    with open(os.path.join(out, "eval-passkey.jsonl"), "w") as f:
        for r in pk16:
            f.write(json.dumps(r) + "\n")
    try:
        plot_curve(hist, os.path.join(out, "training-curve.png"), metrics)
    except Exception as e:  # noqa: BLE001
        log(f"plot failed: {e!r}")
    metrics["eval_wall_s"] = round(time.time() - t_start, 1)
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    log(f"done in {time.time() - t_start:.0f}s: EM {q16.get('exact_match')}, ROUGE-L {rl}")




def cmd_evaluate(args, cfg):
    """Re-runs the evaluation and the reference logits on exported GGUFs (those of a train run's --out)."""
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    import torch
    t_start = time.time()
    device = "cuda" if torch.cuda.is_available() and not args.cpu else "cpu"
    if args.qa_docs is not None:
        cfg["eval"]["qa_docs"] = args.qa_docs
    if args.summary_docs is not None:
        cfg["eval"]["summary_docs"] = args.summary_docs
    apply_overrides(args, cfg)
    tok = load_tokenizer(args.tokenizer)
    mc, s = model_spec(cfg, tok)
    raw_held = load_docs(args.heldout)
    cpt_held = chars_per_token(tok, (d["text"] for d in raw_held[:200]))
    held_docs = [Doc(d, cpt_held) for d in raw_held]
    files = {}
    for v in ("F16", "Q8_0"):
        path = os.path.join(args.run, f"demo-{v}.gguf")
        files[v] = {"path": path, "bytes": os.path.getsize(path)}
    with open(os.path.join(args.run, "train-log.jsonl")) as f:
        hist = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(args.run, "training.json")) as f:
        training = json.load(f)
    evaluate_exported(args.run, cfg, mc, s, files, tok, held_docs, hist, training, device, t_start)


def plot_curve(hist, path, metrics):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    st = [h["step"] for h in hist]
    for k, lab in (("loss", "train (weighted)"), ("loss_text", "text"), ("loss_answer", "answer"),
                   ("loss_summary", "summary"), ("loss_passkey", "passkey")):
        ys = [h.get(k) for h in hist]
        if all(y is None for y in ys):
            continue
        xs = [s for s, y in zip(st, ys) if y is not None]
        ax[0].plot(xs, [y for y in ys if y is not None], label=lab, lw=1)
    vs = [(h["step"], h["val"]) for h in hist if "val" in h]
    if vs:
        ax[0].plot([s for s, _ in vs], [v["text"] for _, v in vs], "o-", ms=3, label="val text")
        ax[0].plot([s for s, _ in vs], [v["answer"] for _, v in vs], "s-", ms=3, label="val answer")
    ax[0].set_yscale("log")
    ax[0].set_xlabel("step")
    ax[0].set_ylabel("cross-entropy (nats/token)")
    ax[0].legend(fontsize=8)
    ax[0].grid(alpha=0.3)
    ax[1].plot(st, [h["lr"] for h in hist])
    ax[1].set_xlabel("step")
    ax[1].set_ylabel("learning rate")
    ax[1].grid(alpha=0.3)
    t = metrics["training"]
    fig.suptitle(f"cascade-lm demo: {metrics['model']['parameters'] / 1e6:.1f}M params, {t['steps']} steps, "
                 f"{t['tokens'] / 1e6:.0f}M tokens, {t['train_wall_s']:.0f}s on {t['device']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(HERE, "config.json"))
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("tokenizer")
    a.add_argument("--corpus", nargs="+", required=True)
    a.add_argument("--out", required=True)
    b = sub.add_parser("train")
    b.add_argument("--train", nargs="+", required=True)
    b.add_argument("--heldout", nargs="+", required=True)
    b.add_argument("--tokenizer", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--steps", type=int, default=None, help="fixed step count (default: fit time_budget_s)")
    b.add_argument("--time-budget", type=float, default=None)
    b.add_argument("--smoke", action="store_true", help="small evaluation (pipeline check)")
    b.add_argument("--lr", type=float, default=None)
    b.add_argument("--warmup", type=int, default=None)
    b.add_argument("--init-gguf", default=None, help="start from these (exported) weights")
    b.add_argument("--prev-run", default=None, help="the earlier phase's --out when continuing (log, step count)")
    b.add_argument("--answer-weight", type=float, default=None, help="loss weight of answer tokens (data.loss_weights)")
    b.add_argument("--episode-mix", default=None, help="narration,qa,summary probabilities, e.g. 0.1,0.7,0.2")
    b.add_argument("--qa-kind-weights", default=None,
                   help="QA sampling weight per question kind, e.g. give=3 (kinds not named weigh 1)")
    b.add_argument("--qa-whole-prob", type=float, default=None,
                   help="share of QA episodes that use the whole document when it fits (data.qa_whole_prob)")
    b.add_argument("--qa-gap-prob", type=float, default=None,
                   help="share of QA episodes whose context is thinned as a cascading cache would (data.qa_gap_prob)")
    b.add_argument("--passkey-weight", type=float, default=None, help="loss weight of passkey answer tokens")
    b.add_argument("--passkey-gap-prob", type=float, default=None,
                   help="share of passkey episodes with dropped filler tokens (data.passkey.gap_prob)")
    b.add_argument("--batch-rows", type=int, default=None, help="rows per step (train.batch_rows; for smoke tests)")
    b.add_argument("--seq-len", type=int, default=None, help="row length = the model's trained context")
    b.add_argument("--set", action="append", default=None, metavar="KEY=JSON",
                   help="any setting by its dotted path in config.json, e.g. data.view.qa_prob=0.6 (repeatable)")
    e = sub.add_parser("evaluate")
    e.add_argument("--run", required=True, help="a train run's --out (demo-*.gguf, train-log.jsonl, training.json)")
    e.add_argument("--heldout", nargs="+", required=True)
    e.add_argument("--tokenizer", required=True)
    e.add_argument("--qa-docs", type=int, default=None)
    e.add_argument("--summary-docs", type=int, default=None)
    e.add_argument("--cpu", action="store_true")
    e.add_argument("--seq-len", type=int, default=None, help="the model's trained context (row length)")
    e.add_argument("--set", action="append", default=None, metavar="KEY=JSON", help="as for train")
    args = ap.parse_args()
    with open(args.config) as f:
        cfg = json.load(f)
    {"tokenizer": cmd_tokenizer, "train": cmd_train, "evaluate": cmd_evaluate}[args.cmd](args, cfg)


if __name__ == "__main__":
    main()
