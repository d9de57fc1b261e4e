#!/usr/bin/env python3
"""Builds cascade-lm's reference fixtures (see tools/reference/README.md).

Stages (all deterministic, seeds fixed):
  quant      - one GGUF holding the same matrix in every supported tensor type + expected dequantized values
  tokenizers - trains the three small tokenizers (SentencePiece BPE, Qwen2-style and Llama-3-style byte-level
               BPE) and writes tokenizer fixtures (ids + decode for ~45 test strings), also for the Llama 2
               SentencePiece model when available
  models     - random-initialised weights (numpy, seeded) -> GGUF variants (F32/F16/BF16/Q8_0/Q4_0) ->
               effective weights (dequantized from the written bytes) loaded into the Hugging Face model ->
               logits for a 300-token sequence + greedy continuation. Needs torch + transformers.

Everything except the `models` stage runs without torch.
"""

import argparse
import hashlib
import io
import json
import math
import os
import random
import sys

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # tokenizers' trainer: single thread, deterministic
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer as gw  # noqa: E402

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
               r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")
CHAT_MESSAGES = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "What colour is the small river today?"},
    {"role": "assistant", "content": "It is green, and it's quite calm."},
    {"role": "user", "content": "Why?"},
]

N_TOKENS = 300          # length of the logits sequence
N_PROMPT = 20           # greedy prompt length
N_NEW = 32              # greedy new tokens
N_TAIL = 50             # positions recorded for non-F32 variants (the last N_TAIL)

# ---------------------------------------------------------------------------------------------
# English-like text generator (word lists written for this script)
# ---------------------------------------------------------------------------------------------
NOUNS = ("river stone garden window market teacher village engine letter morning winter story "
         "mountain bridge kitchen forest doctor season harbor lantern pocket island question "
         "machine painter number school signal table valley voice weather yard paper station "
         "country animal circle friend meadow orchard shadow thunder traveler basket candle "
         "ribbon silver castle compass desert farmer hammer journey ladder mirror needle ocean "
         "planet rocket saddle tunnel violin wagon").split()
VERBS = ("walk carry build follow open watch paint cover measure remember answer gather move "
         "explain finish listen change borrow wander notice travel repair collect visit climb "
         "whisper arrange describe discover imagine promise").split()
ADJS = ("small quiet bright heavy ancient green narrow gentle careful empty golden silent rapid "
        "wooden curious distant simple warm crooked patient tidy hollow famous lonely clever "
        "pale sudden").split()
ADVS = "slowly quickly often rarely carefully gladly almost never always softly nearly".split()
PREPS = "over under near behind across beside through toward without into around".split()
NAMES = "Anna Boris Clara Dmitri Elena Felix Greta Hugo Ines Jonas Klara Lukas Mira Noah Olga Pavel".split()
CONTRACTIONS = ["don't", "it's", "we'll", "they're", "I've", "she'd", "can't", "won't", "you're", "I'm"]
FOREIGN = ["café", "naïve", "résumé", "über", "façade", "piñata", "crème", "déjà"]


def _plural(n):
    if n.endswith(("s", "sh", "ch", "x")):
        return n + "es"
    if n.endswith("y") and n[-2] not in "aeiou":
        return n[:-1] + "ies"
    return n + "s"


def _third(v):
    if v.endswith(("s", "sh", "ch", "x")):
        return v + "es"
    if v.endswith("y") and v[-2] not in "aeiou":
        return v[:-1] + "ies"
    return v + "s"


def _past(v):
    if v.endswith("e"):
        return v + "d"
    if v.endswith("y") and v[-2] not in "aeiou":
        return v[:-1] + "ied"
    return v + "ed"


def sentence(r):
    def np_():
        d = r.choice(["the", "a", "this", "every", "my", "our", "the", "the"])
        adj = r.choice(ADJS) + " " if r.random() < 0.5 else ""
        w = adj + r.choice(NOUNS)
        if d == "a" and w[0] in "aeiou":
            d = "an"
        return d + " " + w

    kind = r.randrange(9)
    if kind == 0:
        s = f"{np_()} {_third(r.choice(VERBS))} {r.choice(PREPS)} {np_()}"
    elif kind == 1:
        s = f"{r.choice(NAMES)} {_past(r.choice(VERBS))} {np_()} {r.choice(ADVS)}"
    elif kind == 2:
        s = f"{r.choice(CONTRACTIONS)} {r.choice(VERBS)} {np_()}, said {r.choice(NAMES)}"
    elif kind == 3:
        n = r.choice([r.randrange(2, 20), r.randrange(100, 1000), r.randrange(1000, 100000)])
        s = f"there were {n} {_plural(r.choice(NOUNS))} {r.choice(PREPS)} {np_()}"
    elif kind == 4:
        s = f"in {r.randrange(1800, 2030)}, {np_()} {_past(r.choice(VERBS))} {np_()}"
    elif kind == 5:
        s = f"why do {_plural(r.choice(NOUNS))} {r.choice(VERBS)} {r.choice(ADVS)}?"
    elif kind == 6:
        s = f"{np_()} costs ${r.randrange(1, 99)}.{r.randrange(0, 100):02d} at the {r.choice(FOREIGN)}"
    elif kind == 7:
        s = f"\"{r.choice(ADJS).capitalize()} {r.choice(NOUNS)}!\" {r.choice(NAMES)} shouted"
    else:
        s = f"{np_()} and {np_()} {r.choice(VERBS)} {r.choice(ADVS)} ({r.choice(ADJS)}, {r.choice(ADJS)})"
    s = s[0].upper() + s[1:]
    if s[-1] not in "?!\"":
        s += r.choice([".", ".", ".", "!", ";"]) if kind != 7 else "."
    return s


def gen_text(seed, n_sentences):
    r = random.Random(seed)
    out = []
    for i in range(n_sentences):
        out.append(sentence(r))
        c = r.random()
        out.append("\n\n" if c < 0.08 else ("\n" if c < 0.15 else " "))
    return "".join(out).strip() + "\n"


def corpus_lines(seed, n_sentences):
    return [ln for ln in gen_text(seed, n_sentences).split("\n") if ln.strip()]


# ---------------------------------------------------------------------------------------------
# tokenizer test strings
# ---------------------------------------------------------------------------------------------
TEST_STRINGS = [
    "Hello world",
    "hello world",
    " Hello world",
    "   leading spaces",
    "trailing spaces   ",
    "multiple    spaces   between words",
    "tab\tseparated\tvalues",
    "\t\tleading tabs",
    "line one\nline two",
    "windows\r\nline\r\n\r\nendings",
    "\n\n\nnewlines first",
    "ends with newlines\n\n",
    "1", "12", "123", "1234", "12345", "123456", "1234567",
    "Prices: $3.99, 10,000 items, 2024-01-15.",
    "café naïve résumé façade",
    "Ångström über straße",
    "日本語のテキスト",
    "中文分词测试",
    "non\u00a0breaking\u00a0space",
    "ideographic\u3000space",
    "emoji 😀 test",
    "family 👨\u200d👩\u200d👧\u200d👦 ZWJ",
    "flags 🇺🇸🇫🇷 and ❤️",
    "def foo(x):\n    return x * 2\n",
    "for (int i = 0; i < n; i++) { sum += a[i]; }",
    "<html><body>Hi</body></html>",
    "I'm sure you're right, it's what we'd've done.",
    "DON'T SHOUT, I'LL LISTEN",
    "She said: \"don't\" and 'won't'.",
    "text with <|im_end|> inside",
    "<|endoftext|><|begin_of_text|>",
    "",
    " ",
    "a",
    "Mixed CASE and snake_case and camelCase",
    "The quick brown fox jumps over the lazy dog.",
    "Ελληνικά και русский текст",
    "Ünïcödé   \t\n mixed   whitespace",
    "  \n  ",
]


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def versions():
    v = {"python": sys.version.split()[0], "numpy": np.__version__}
    for mod in ("torch", "transformers", "sentencepiece", "tokenizers"):
        try:
            v[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            v[mod] = None
    return v


# ---------------------------------------------------------------------------------------------
# tokenizers
# ---------------------------------------------------------------------------------------------
class SpmTok:
    """SentencePiece tokenizer (model A and Llama 2)."""

    def __init__(self, model_bytes):
        import sentencepiece as spm
        self.sp = spm.SentencePieceProcessor(model_proto=model_bytes)
        self.model_bytes = model_bytes

    def vocab_size(self):
        return self.sp.get_piece_size()

    def encode(self, text):
        return list(self.sp.encode(text))

    def decode(self, ids):
        return self.sp.decode(list(ids))

    def pieces(self, ids):
        return [self.sp.id_to_piece(i) for i in ids]

    def token_type(self, i):
        sp = self.sp
        if sp.is_unknown(i):
            return 2
        if sp.is_control(i):
            return 3
        if sp.is_unused(i):
            return 5
        if sp.is_byte(i):
            return 6
        return 1

    def gguf_metadata(self):
        n = self.vocab_size()
        return {
            "tokenizer.ggml.model": "llama",
            "tokenizer.ggml.tokens": gw.TypedArray(gw.GGUF_STRING, [self.sp.id_to_piece(i) for i in range(n)]),
            "tokenizer.ggml.scores": gw.TypedArray(gw.GGUF_FLOAT32, [float(self.sp.get_score(i)) for i in range(n)]),
            "tokenizer.ggml.token_type": gw.TypedArray(gw.GGUF_INT32, [self.token_type(i) for i in range(n)]),
            "tokenizer.ggml.bos_token_id": gw.U32(self.sp.bos_id()),
            "tokenizer.ggml.eos_token_id": gw.U32(self.sp.eos_id()),
            "tokenizer.ggml.unknown_token_id": gw.U32(self.sp.unk_id()),
            "tokenizer.ggml.add_bos_token": True,
            "tokenizer.ggml.add_eos_token": False,
            "tokenizer.ggml.add_space_prefix": True,
        }


def train_spm(lines, vocab_size=512):
    import sentencepiece as spm
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf, model_type="bpe", vocab_size=vocab_size,
        byte_fallback=True, split_digits=True, allow_whitespace_only_pieces=True,
        remove_extra_whitespaces=False, normalization_rule_name="identity", add_dummy_prefix=True,
        character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1,
        input_sentence_size=0, shuffle_input_sentence=False, max_sentence_length=16384,
        minloglevel=2)
    return buf.getvalue()


class BpeTok:
    """Byte-level BPE via HF tokenizers (models B and C)."""

    def __init__(self, tok, specials, pre, template, bos, eos, eot, pad, add_bos):
        self.tok = tok
        self.specials = specials
        self.pre = pre
        self.template = template
        self.bos, self.eos, self.eot, self.pad, self.add_bos = bos, eos, eot, pad, add_bos

    def vocab_size(self):
        return self.tok.get_vocab_size(with_added_tokens=True)

    def id(self, s):
        i = self.tok.token_to_id(s)
        assert i is not None, s
        return i

    def encode(self, text, parse_special=False):
        self.tok.encode_special_tokens = not parse_special
        try:
            return list(self.tok.encode(text, add_special_tokens=False).ids)
        finally:
            self.tok.encode_special_tokens = False

    def decode(self, ids, skip_special=True):
        return self.tok.decode(list(ids), skip_special_tokens=skip_special)

    def pieces(self, ids):
        return [self.tok.id_to_token(i) for i in ids]

    def gguf_metadata(self):
        n = self.vocab_size()
        tokens = [self.tok.id_to_token(i) for i in range(n)]
        assert all(t is not None for t in tokens)
        special_ids = {self.id(s) for s in self.specials}
        merges = json.loads(self.tok.to_str())["model"]["merges"]
        merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
        md = {
            "tokenizer.ggml.model": "gpt2",
            "tokenizer.ggml.pre": self.pre,
            "tokenizer.ggml.tokens": gw.TypedArray(gw.GGUF_STRING, tokens),
            "tokenizer.ggml.token_type": gw.TypedArray(gw.GGUF_INT32, [3 if i in special_ids else 1 for i in range(n)]),
            "tokenizer.ggml.merges": gw.TypedArray(gw.GGUF_STRING, merges),
            "tokenizer.ggml.bos_token_id": gw.U32(self.id(self.bos)),
            "tokenizer.ggml.eos_token_id": gw.U32(self.id(self.eos)),
            "tokenizer.ggml.eot_token_id": gw.U32(self.id(self.eot)),
            "tokenizer.ggml.padding_token_id": gw.U32(self.id(self.pad)),
            "tokenizer.ggml.add_bos_token": self.add_bos,
            "tokenizer.ggml.add_eos_token": False,
            "tokenizer.chat_template": self.template,
        }
        return md


def train_bpe(lines, regex, vocab_size, specials, ignore_merges):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - len(specials), min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)
    tok.train_from_iterator(lines, trainer)
    if ignore_merges:
        d = json.loads(tok.to_str())
        d["model"]["ignore_merges"] = True
        tok = Tokenizer.from_str(json.dumps(d))
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def build_tokenizers(args):
    """Returns dict name -> tokenizer object; trained on the generated corpus (seed 1)."""
    lines = corpus_lines(seed=1, n_sentences=4000)
    out = {}
    out["llama-spm"] = SpmTok(train_spm(lines, 512))
    qwen_specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    out["qwen2-bpe"] = BpeTok(train_bpe(lines, QWEN2_REGEX, 1000, qwen_specials, ignore_merges=False),
                              qwen_specials, "qwen2", CHATML_TEMPLATE, bos="<|endoftext|>", eos="<|im_end|>",
                              eot="<|im_end|>", pad="<|endoftext|>", add_bos=False)
    l3_specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    out["llama3-bpe"] = BpeTok(train_bpe(lines, LLAMA3_REGEX, 800, l3_specials, ignore_merges=True),
                               l3_specials, "llama-bpe", LLAMA3_TEMPLATE, bos="<|begin_of_text|>",
                               eos="<|end_of_text|>", eot="<|eot_id|>", pad="<|end_of_text|>", add_bos=True)
    return out


def tokenizer_fixture(name, tok, kind, source):
    cases = []
    for s in TEST_STRINGS:
        ids = tok.encode(s)
        case = {"text": s, "ids": ids, "pieces": tok.pieces(ids), "decoded": tok.decode(ids)}
        if kind == "bpe":
            ps = tok.encode(s, parse_special=True)
            if ps != ids:
                case["ids_parse_special"] = ps
        cases.append(case)
    fx = {"name": name, "kind": kind, "source": source, "vocab_size": tok.vocab_size(), "versions": versions()}
    if kind == "spm":
        fx["encode"] = ("sentencepiece SentencePieceProcessor.encode(text) (add_dummy_prefix as in the model, "
                        "no BOS/EOS); decoded = SentencePieceProcessor.decode(ids)")
    else:
        fx["encode"] = ("tokenizers.Tokenizer.encode(text, add_special_tokens=False) with encode_special_tokens=True "
                        "(special-token text is NOT parsed, like split_special_tokens=True / llama.cpp parse_special="
                        "false); ids_parse_special (only where different) = same with special tokens parsed; "
                        "decoded = Tokenizer.decode(ids, skip_special_tokens=True)")
        fx["pre_tokenizer_regex"] = QWEN2_REGEX if tok.pre == "qwen2" else LLAMA3_REGEX
        fx["special_tokens"] = {s: tok.id(s) for s in tok.specials}
        try:
            from transformers import PreTrainedTokenizerFast
            hf = PreTrainedTokenizerFast(tokenizer_object=tok.tok, bos_token=tok.bos, eos_token=tok.eos,
                                         chat_template=tok.template)
            rendered = hf.apply_chat_template(CHAT_MESSAGES, tokenize=False, add_generation_prompt=True)
            fx["chat"] = {"messages": CHAT_MESSAGES, "add_generation_prompt": True, "rendered": rendered,
                          "ids_parse_special": tok.encode(rendered, parse_special=True),
                          "how": "transformers apply_chat_template(tokenize=False) with the GGUF's "
                                 "tokenizer.chat_template, then encoded with special tokens parsed"}
        except Exception as e:  # noqa: BLE001
            fx["chat_error"] = repr(e)
    fx["cases"] = cases
    return fx


def stage_tokenizers(args, toks):
    d = os.path.join(args.out, "tokenizer")
    os.makedirs(d, exist_ok=True)
    mdir = os.path.join(args.out, "models")
    os.makedirs(mdir, exist_ok=True)
    for name, tok in toks.items():
        kind = "spm" if isinstance(tok, SpmTok) else "bpe"
        write_json(os.path.join(d, f"{name}.json"),
                   tokenizer_fixture(name, tok, kind, f"trained by make_fixtures.py (model {name})"))
        if kind == "spm":
            with open(os.path.join(mdir, f"{name}.tokenizer.model"), "wb") as f:
                f.write(tok.model_bytes)
        else:
            with open(os.path.join(mdir, f"{name}.tokenizer.json"), "w", encoding="utf-8") as f:
                f.write(tok.tok.to_str(pretty=True))
    if args.llama2_vocab and os.path.exists(args.llama2_vocab):
        with open(args.llama2_vocab, "rb") as f:
            tok = SpmTok(f.read())
        write_json(os.path.join(d, "llama2-spm.json"),
                   tokenizer_fixture("llama2-spm", tok, "spm", "Llama 2 tokenizer.model (shared/vocab, "
                                     f"sha256 {sha256(tok.model_bytes)})"))
    else:
        print("WARNING: Llama 2 vocab not found, llama2-spm.json not written", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# quant stage
# ---------------------------------------------------------------------------------------------
QUANT_TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"]


def stage_quant(args):
    d = os.path.join(args.out, "quant")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(7)
    a = (rng.standard_normal((4, 512)) * 0.5).astype(np.float32)
    a[0, 0:32] = 0.0                    # an all-zero block
    a[1, 40] = 9.0                      # an outlier (positive max)
    a[2, 70] = -11.0                    # negative max
    a[3, 256:512] = np.abs(a[3, 256:512])  # a K-super-block of positive values only
    a[3, 5] = np.float32(1e-3)
    w = gw.GGUFWriter()
    w.add("general.architecture", "quanttest")
    w.add("general.name", "cascade-lm quantization fixture")
    expected = []
    for t in QUANT_TYPES:
        raw = w.add_tensor(f"q.{t}", a, gw.TYPE_BY_NAME[t])
        expected.append(gw.dequantize(raw, gw.TYPE_BY_NAME[t], a.size).reshape(a.shape))
    n = w.write(os.path.join(d, "quant-types.gguf"))
    meta, tensors, _ = gw.read_gguf(os.path.join(d, "quant-types.gguf"))
    for t, e in zip(QUANT_TYPES, expected):
        assert np.array_equal(gw.tensor_to_numpy(tensors[f"q.{t}"]), e)
    np.stack(expected).astype("<f4").tofile(os.path.join(d, "quant-types.expected.f32"))
    write_json(os.path.join(d, "quant-types.json"), {
        "gguf": "quant-types.gguf", "gguf_size": n, "shape_numpy": list(a.shape), "gguf_dims": [512, 4],
        "tensors_in_order": [f"q.{t}" for t in QUANT_TYPES],
        "expected": "quant-types.expected.f32: little-endian float32 [7, 4, 512], the dequantized values of each "
                    "tensor in tensors_in_order; the F32 slice is the source matrix",
        "max_abs_error_vs_source": {t: float(np.abs(e - a).max()) for t, e in zip(QUANT_TYPES, expected)},
    })


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------
MODEL_SPECS = {
    "llama-spm": dict(arch="llama", seed=101, vocab=512, hidden=128, heads=4, kv_heads=2, ffn=256, layers=2,
                      rope_theta=10000.0, eps=1e-5, tied=False, embed_std=0.25, qkv_bias=False, ctx=2048,
                      variants=["F32", "F16", "BF16", "Q8_0", "Q4_0"], rope_scaling=None),
    "qwen2-bpe": dict(arch="qwen2", seed=202, vocab=None, hidden=64, heads=4, kv_heads=2, ffn=192, layers=2,
                      rope_theta=1000000.0, eps=1e-6, tied=True, embed_std=0.08, qkv_bias=True, ctx=4096,
                      variants=["F32", "F16"], rope_scaling=None),
    "llama3-bpe": dict(arch="llama", seed=303, vocab=None, hidden=128, heads=8, kv_heads=2, ffn=320, layers=3,
                       rope_theta=500000.0, eps=1e-5, tied=True, embed_std=0.08, qkv_bias=False, ctx=2048,
                       variants=["F32", "F16", "Q8_0"],
                       rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                     "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
}
WEIGHT_STD = 0.08   # every projection matrix; token_embd/output use the spec's embed_std
NORM_STD = 0.1
BIAS_STD = 0.1


def hf_param_shapes(s):
    hd = s["hidden"] // s["heads"]
    shapes = {"model.embed_tokens.weight": (s["vocab"], s["hidden"])}
    for i in range(s["layers"]):
        p = f"model.layers.{i}."
        shapes[p + "input_layernorm.weight"] = (s["hidden"],)
        shapes[p + "self_attn.q_proj.weight"] = (s["heads"] * hd, s["hidden"])
        shapes[p + "self_attn.k_proj.weight"] = (s["kv_heads"] * hd, s["hidden"])
        shapes[p + "self_attn.v_proj.weight"] = (s["kv_heads"] * hd, s["hidden"])
        if s["qkv_bias"]:
            shapes[p + "self_attn.q_proj.bias"] = (s["heads"] * hd,)
            shapes[p + "self_attn.k_proj.bias"] = (s["kv_heads"] * hd,)
            shapes[p + "self_attn.v_proj.bias"] = (s["kv_heads"] * hd,)
        shapes[p + "self_attn.o_proj.weight"] = (s["hidden"], s["heads"] * hd)
        shapes[p + "post_attention_layernorm.weight"] = (s["hidden"],)
        shapes[p + "mlp.gate_proj.weight"] = (s["ffn"], s["hidden"])
        shapes[p + "mlp.up_proj.weight"] = (s["ffn"], s["hidden"])
        shapes[p + "mlp.down_proj.weight"] = (s["hidden"], s["ffn"])
    shapes["model.norm.weight"] = (s["hidden"],)
    if not s["tied"]:
        shapes["lm_head.weight"] = (s["vocab"], s["hidden"])
    return shapes


def random_weights(s):
    """Deterministic float32 weights (numpy PCG64 seeded by the model's seed), in HF naming/layout."""
    rng = np.random.default_rng(s["seed"])
    w = {}
    for name, shape in hf_param_shapes(s).items():  # insertion order is fixed
        z = rng.standard_normal(shape)
        if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
            v = 1.0 + NORM_STD * z
        elif name.endswith(".bias"):
            v = BIAS_STD * z
        elif name in ("model.embed_tokens.weight", "lm_head.weight"):
            v = s["embed_std"] * z
        else:
            v = WEIGHT_STD * z
        w[name] = v.astype(np.float32)
    return w


def permute(w, n_head):
    """HF rotate-half Q/K rows -> GGUF (llama.cpp 'llama' arch) interleaved pairs (convert_hf_to_gguf)."""
    rows = w.shape[0]
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head):
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def rope_freq_factors(s):
    """llama.cpp rope_freqs.weight as convert_hf_to_gguf computes it (freqs in float32, factors in double)."""
    rs = s["rope_scaling"]
    hd = s["hidden"] // s["heads"]
    base = s["rope_theta"]
    try:
        import torch
        freqs = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        freqs = [float(f) for f in freqs]
    except ImportError:
        freqs = [float(f) for f in (np.float32(1.0) / (np.float32(base) ** (np.arange(0, hd, 2, dtype=np.float32) / np.float32(hd))))]
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    low_wl, high_wl = old / lo, old / hi
    out = []
    for f in freqs:
        wl = 2 * math.pi / f
        if wl < high_wl:
            out.append(1.0)
        elif wl > low_wl:
            out.append(factor)
        else:
            sm = (old / wl - lo) / (hi - lo)
            out.append(1 / ((1 - sm) / factor + sm))
    return np.array(out, dtype=np.float32)


def gguf_tensors(s, w):
    """HF weights -> list of (gguf name, float32 array, kind) in llama.cpp conventions."""
    hd = s["hidden"] // s["heads"]
    perm = s["arch"] == "llama"
    out = []
    if s["rope_scaling"] is not None:
        out.append(("rope_freqs.weight", rope_freq_factors(s), "1d"))
    out.append(("token_embd.weight", w["model.embed_tokens.weight"], "2d"))
    for i in range(s["layers"]):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        q = w[p + "self_attn.q_proj.weight"]
        k = w[p + "self_attn.k_proj.weight"]
        out.append((b + "attn_norm.weight", w[p + "input_layernorm.weight"], "1d"))
        out.append((b + "attn_q.weight", permute(q, s["heads"]) if perm else q, "2d"))
        out.append((b + "attn_k.weight", permute(k, s["kv_heads"]) if perm else k, "2d"))
        out.append((b + "attn_v.weight", w[p + "self_attn.v_proj.weight"], "2d"))
        if s["qkv_bias"]:
            assert not perm
            out.append((b + "attn_q.bias", w[p + "self_attn.q_proj.bias"], "1d"))
            out.append((b + "attn_k.bias", w[p + "self_attn.k_proj.bias"], "1d"))
            out.append((b + "attn_v.bias", w[p + "self_attn.v_proj.bias"], "1d"))
        out.append((b + "attn_output.weight", w[p + "self_attn.o_proj.weight"], "2d"))
        out.append((b + "ffn_norm.weight", w[p + "post_attention_layernorm.weight"], "1d"))
        out.append((b + "ffn_gate.weight", w[p + "mlp.gate_proj.weight"], "2d"))
        out.append((b + "ffn_up.weight", w[p + "mlp.up_proj.weight"], "2d"))
        out.append((b + "ffn_down.weight", w[p + "mlp.down_proj.weight"], "2d"))
    out.append(("output_norm.weight", w["model.norm.weight"], "1d"))
    if not s["tied"]:
        out.append(("output.weight", w["lm_head.weight"], "2d"))
    assert hd % 2 == 0
    return out


def hf_from_gguf(s, tensors):
    """GGUF tensors (as read back) -> effective float32 HF state dict (inverse of gguf_tensors)."""
    perm = s["arch"] == "llama"
    g = {n: gw.tensor_to_numpy(e) for n, e in tensors.items()}
    w = {"model.embed_tokens.weight": g["token_embd.weight"], "model.norm.weight": g["output_norm.weight"]}
    if not s["tied"]:
        w["lm_head.weight"] = g["output.weight"]
    for i in range(s["layers"]):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        q, k = g[b + "attn_q.weight"], g[b + "attn_k.weight"]
        w[p + "input_layernorm.weight"] = g[b + "attn_norm.weight"]
        w[p + "self_attn.q_proj.weight"] = unpermute(q, s["heads"]) if perm else q
        w[p + "self_attn.k_proj.weight"] = unpermute(k, s["kv_heads"]) if perm else k
        w[p + "self_attn.v_proj.weight"] = g[b + "attn_v.weight"]
        if s["qkv_bias"]:
            for x in "qkv":
                w[p + f"self_attn.{x}_proj.bias"] = g[b + f"attn_{x}.bias"]
        w[p + "self_attn.o_proj.weight"] = g[b + "attn_output.weight"]
        w[p + "post_attention_layernorm.weight"] = g[b + "ffn_norm.weight"]
        w[p + "mlp.gate_proj.weight"] = g[b + "ffn_gate.weight"]
        w[p + "mlp.up_proj.weight"] = g[b + "ffn_up.weight"]
        w[p + "mlp.down_proj.weight"] = g[b + "ffn_down.weight"]
    return w


def gguf_metadata(name, s, variant):
    a = s["arch"]
    hd = s["hidden"] // s["heads"]
    md = {
        "general.architecture": a,
        "general.name": f"cascade-lm fixture {name}",
        "general.file_type": gw.U32(gw.FILE_TYPE[gw.TYPE_BY_NAME[variant]]),
        f"{a}.vocab_size": gw.U32(s["vocab"]),
        f"{a}.context_length": gw.U32(s["ctx"]),
        f"{a}.embedding_length": gw.U32(s["hidden"]),
        f"{a}.block_count": gw.U32(s["layers"]),
        f"{a}.feed_forward_length": gw.U32(s["ffn"]),
        f"{a}.attention.head_count": gw.U32(s["heads"]),
        f"{a}.attention.head_count_kv": gw.U32(s["kv_heads"]),
        f"{a}.attention.layer_norm_rms_epsilon": float(s["eps"]),
        f"{a}.rope.freq_base": float(s["rope_theta"]),
        f"{a}.rope.dimension_count": gw.U32(hd),
    }
    return md


def build_gguf(name, s, w, tok, variant):
    wr = gw.GGUFWriter()
    for k, v in gguf_metadata(name, s, variant).items():
        wr.add(k, v)
    for k, v in tok.gguf_metadata().items():
        wr.add(k, v)
    vt = gw.TYPE_BY_NAME[variant]
    types = {}
    for tname, arr, kind in gguf_tensors(s, w):
        t = vt if kind == "2d" else gw.F32
        wr.add_tensor(tname, arr, t)
        types[tname] = gw.TYPE_NAMES[t]
    return wr.to_bytes(), types


def hf_config(s, tok=None):
    from transformers import LlamaConfig, Qwen2Config
    hd = s["hidden"] // s["heads"]
    common = dict(vocab_size=s["vocab"], hidden_size=s["hidden"], intermediate_size=s["ffn"],
                  num_hidden_layers=s["layers"], num_attention_heads=s["heads"], num_key_value_heads=s["kv_heads"],
                  head_dim=hd, max_position_embeddings=s["ctx"], rms_norm_eps=s["eps"],
                  tie_word_embeddings=s["tied"], attn_implementation="eager", hidden_act="silu",
                  bos_token_id=s.get("bos_id"), eos_token_id=s.get("eos_id"), pad_token_id=s.get("pad_id"))
    rp = {"rope_type": "default", "rope_theta": s["rope_theta"]}
    if s["rope_scaling"]:
        rp = dict(s["rope_scaling"], rope_theta=s["rope_theta"])
    if s["arch"] == "llama":
        return LlamaConfig(attention_bias=False, mlp_bias=False, rope_parameters=rp, **common)
    return Qwen2Config(rope_parameters=rp, use_sliding_window=False, **common)


def hf_model(s):
    import torch
    from transformers import LlamaForCausalLM, Qwen2ForCausalLM
    cfg = hf_config(s)
    torch.manual_seed(s["seed"])
    cls = LlamaForCausalLM if s["arch"] == "llama" else Qwen2ForCausalLM
    m = cls(cfg).to(torch.float32).eval()
    return m


def load_weights(model, s, w):
    import torch
    params = dict(model.named_parameters())
    if s["tied"]:
        params.pop("lm_head.weight", None)
    expected = set(hf_param_shapes(s))
    assert set(params) == expected, (sorted(set(params) ^ expected))
    with torch.no_grad():
        for n, p in params.items():
            assert tuple(p.shape) == w[n].shape, n
            p.copy_(torch.from_numpy(np.ascontiguousarray(w[n])))
    if s["tied"]:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()


def run_logits(model, ids):
    import torch
    with torch.no_grad():
        x = torch.tensor([ids], dtype=torch.long)
        out = model(input_ids=x, attention_mask=torch.ones_like(x), use_cache=False)
        return out.logits[0].float().cpu().numpy()


def run_greedy(model, prompt):
    import torch
    # generate() fills unset (None) values from model.generation_config, so no-EOS must be set there
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    x = torch.tensor([prompt], dtype=torch.long)
    with torch.no_grad():
        g = model.generate(input_ids=x, attention_mask=torch.ones_like(x), do_sample=False, num_beams=1,
                           max_new_tokens=N_NEW, eos_token_id=None, pad_token_id=0)
    hf_new = g[0, len(prompt):].tolist()
    assert len(hf_new) == N_NEW, len(hf_new)
    # independent check: argmax loop with full re-computation, no KV cache
    ids = list(prompt)
    margins = []
    for _ in range(N_NEW):
        last = run_logits(model, ids)[-1]
        top2 = np.sort(last)[-2:]
        margins.append(float(top2[1] - top2[0]))
        ids.append(int(np.argmax(last)))
    return hf_new, ids[len(prompt):], min(margins)


def stage_models(args, toks):
    hf = not args.no_hf
    if hf:
        import torch
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        torch.use_deterministic_algorithms(True)
    import gguf_forward
    d = os.path.join(args.out, "models")
    os.makedirs(d, exist_ok=True)
    source_text = gen_text(seed=1234, n_sentences=120)
    for name, s0 in MODEL_SPECS.items():
        if args.only and name not in args.only:
            continue
        s = dict(s0)
        tok = toks[name]
        s["vocab"] = tok.vocab_size()
        w = random_weights(s)
        # token sequence
        if isinstance(tok, SpmTok):
            bos = [tok.sp.bos_id()]
            stop = [tok.sp.eos_id()]
        else:
            bos = [tok.id(tok.bos)] if tok.add_bos else []
            stop = sorted({tok.id(tok.eos), tok.id(tok.eot), tok.id(tok.pad)} - set(bos))
        if isinstance(tok, SpmTok):
            s["bos_id"], s["eos_id"], s["pad_id"] = tok.sp.bos_id(), tok.sp.eos_id(), None
        else:
            s["bos_id"], s["eos_id"], s["pad_id"] = tok.id(tok.bos), tok.id(tok.eos), tok.id(tok.pad)
        text_ids = tok.encode(source_text)
        assert len(text_ids) >= N_TOKENS, len(text_ids)
        ids = bos + text_ids[: N_TOKENS - len(bos)]
        manifest = {
            "name": name, "arch": s["arch"], "spec": {k: v for k, v in s.items() if k != "variants"},
            "init": {"rng": "numpy.random.default_rng(seed).standard_normal, parameters drawn in hf_param_shapes order",
                     "weights_std": WEIGHT_STD, "embed_std": s["embed_std"], "norm": f"1 + {NORM_STD}*N(0,1)", "bias_std": BIAS_STD},
            "hf_class": "LlamaForCausalLM" if s["arch"] == "llama" else "Qwen2ForCausalLM",
            "hf_config": json.loads(hf_config(s).to_json_string()),
            "versions": versions(),
            "tokens": {"source_text": source_text, "bos_prefix": bos, "n_tokens": len(ids), "ids": ids,
                       "how": "[BOS if the tokenizer adds it] + encode(source_text) (no special-token parsing), "
                              f"truncated to {N_TOKENS} tokens"},
            "greedy_stop_ids": stop,
            "variants": {},
        }
        ref_logits = None
        model = hf_model(s) if hf else None
        for variant in s0["variants"]:
            data, types = build_gguf(name, s, w, tok, variant)
            fname = f"{name}.{variant}.gguf"
            with open(os.path.join(d, fname), "wb") as f:
                f.write(data)
            meta, tensors, _ = gw.read_gguf(data)
            eff = hf_from_gguf(s, tensors)
            if variant == "F32":
                for k in w:
                    assert np.array_equal(eff[k], w[k]), k
            np_logits = gguf_forward.forward(data, ids)
            if not hf:
                print(f"{name} {variant}: gguf {len(data)} B, numpy logits std {np_logits.std():.3f} "
                      f"argmax[:10] {np_logits.argmax(-1)[:10].tolist()}", flush=True)
                continue
            load_weights(model, s, eff)
            logits = run_logits(model, ids)
            assert logits.shape == (len(ids), s["vocab"])
            if variant == "F32":
                ref_logits = logits
                start = 0
            else:
                start = len(ids) - N_TAIL
            lname = f"{name}.{variant}.logits.f32"
            np.ascontiguousarray(logits[start:], dtype="<f4").tofile(os.path.join(d, lname))
            prompt = ids[:N_PROMPT]
            hf_new, loop_new, greedy_margin = run_greedy(model, prompt)
            top2 = np.sort(logits[start:], axis=1)[:, -2:]
            first_stop = next((i for i, t in enumerate(hf_new) if t in stop), None)
            np_diff = float(np.abs(np_logits - logits).max())
            manifest["variants"][variant] = {
                "gguf": fname, "gguf_size": len(data), "gguf_sha256": sha256(data), "tensor_types": types,
                "logits": {"file": lname, "dtype": "float32 little-endian", "first_position": start,
                           "shape": [len(ids) - start, s["vocab"]],
                           "row_i_is_position": "first_position + i (logits predicting the token after ids[first_position+i])"},
                "max_abs_diff_vs_F32_logits": float(np.abs(logits[start:] - ref_logits[start:]).max()),
                "max_abs_diff_numpy_gguf_forward": np_diff,
                "logit_stats": {"std": float(logits.std()), "max": float(logits.max()), "min": float(logits.min()),
                                "min_top1_minus_top2_recorded_rows": float((top2[:, 1] - top2[:, 0]).min())},
                "greedy": {"prompt_ids": prompt, "new_ids": hf_new, "first_stop_index": first_stop,
                           "min_top1_minus_top2_logit": greedy_margin,
                           "text": tok.decode(hf_new), "prompt_text": tok.decode(prompt),
                           "no_cache_argmax_loop_agrees": hf_new == loop_new,
                           **({} if hf_new == loop_new else {"no_cache_argmax_loop_ids": loop_new})},
            }
            print(f"{name} {variant}: gguf {len(data)} B, logits std {logits.std():.3f}, "
                  f"diff vs F32 {manifest['variants'][variant]['max_abs_diff_vs_F32_logits']:.3g}, "
                  f"numpy-gguf diff {np_diff:.3g}, greedy {hf_new[:8]}... agree={hf_new == loop_new} "
                  f"stop={first_stop}", flush=True)
        if hf:
            write_json(os.path.join(d, f"{name}.json"), manifest)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="model/src/test/resources/fixtures")
    ap.add_argument("--llama2-vocab", default=".device/llama2-tokenizer.model")
    ap.add_argument("--stages", default="quant,tokenizers,models")
    ap.add_argument("--only", nargs="*", help="model names for the models stage")
    ap.add_argument("--no-hf", action="store_true", help="models stage without torch: GGUFs + numpy forward only")
    args = ap.parse_args()
    stages = args.stages.split(",")
    os.makedirs(args.out, exist_ok=True)
    print("versions:", versions(), flush=True)
    if "quant" in stages:
        stage_quant(args)
    toks = None
    if "tokenizers" in stages or "models" in stages:
        toks = build_tokenizers(args)
    if "tokenizers" in stages:
        stage_tokenizers(args, toks)
    if "models" in stages:
        stage_models(args, toks)


if __name__ == "__main__":
    main()
