"""Independent float64 numpy forward pass over a GGUF file, in llama.cpp's conventions.

Used by make_fixtures.py as a cross-check of the GGUF export: it reads only the GGUF (metadata +
dequantized tensors), applies RoPE the way llama.cpp does for the architecture (arch `llama`:
GGML_ROPE_TYPE_NORM, adjacent pairs (x[2i], x[2i+1]) of the permuted Q/K rows, theta_i divided by
rope_freqs[i] when present; arch `qwen2`: GGML_ROPE_TYPE_NEOX, pairs (x[i], x[i + d/2])), and must
agree with the Hugging Face logits up to float32 rounding.
"""

import numpy as np

import gguf_writer as gw


def forward(path_or_bytes, ids):
    meta, tensors, _ = gw.read_gguf(path_or_bytes)
    a = meta["general.architecture"]
    g = {n: gw.tensor_to_numpy(e).astype(np.float64) for n, e in tensors.items()}
    n_layer = meta[f"{a}.block_count"]
    n_head = meta[f"{a}.attention.head_count"]
    n_kv = meta[f"{a}.attention.head_count_kv"]
    eps = float(np.float32(meta[f"{a}.attention.layer_norm_rms_epsilon"]))
    base = float(np.float32(meta[f"{a}.rope.freq_base"]))
    n_rot = meta[f"{a}.rope.dimension_count"]
    E = g["token_embd.weight"]
    d_model = E.shape[1]
    hd = d_model // n_head
    assert n_rot == hd
    neox = a == "qwen2"
    ff = g.get("rope_freqs.weight", np.ones(hd // 2))
    pos = np.arange(len(ids), dtype=np.float64)
    inv = base ** (-2.0 * np.arange(hd // 2) / hd) / ff
    ang = pos[:, None] * inv[None, :]  # [T, hd/2]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]

    def rope(x):  # x [T, H, hd]
        if neox:
            x0, x1 = x[..., : hd // 2], x[..., hd // 2:]
            return np.concatenate([x0 * cos - x1 * sin, x0 * sin + x1 * cos], axis=-1)
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = x0 * cos - x1 * sin
        out[..., 1::2] = x0 * sin + x1 * cos
        return out

    def rms(x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w

    T = len(ids)
    x = E[np.asarray(ids)]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for i in range(n_layer):
        b = f"blk.{i}."
        h = rms(x, g[b + "attn_norm.weight"])
        q = h @ g[b + "attn_q.weight"].T + g.get(b + "attn_q.bias", 0.0)
        k = h @ g[b + "attn_k.weight"].T + g.get(b + "attn_k.bias", 0.0)
        v = h @ g[b + "attn_v.weight"].T + g.get(b + "attn_v.bias", 0.0)
        q = rope(q.reshape(T, n_head, hd))
        k = rope(k.reshape(T, n_kv, hd))
        v = v.reshape(T, n_kv, hd)
        rep = n_head // n_kv
        o = np.empty((T, n_head, hd))
        for hh in range(n_head):
            kv = hh // rep
            s = q[:, hh, :] @ k[:, kv, :].T / np.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
            o[:, hh, :] = s @ v[:, kv, :]
        x = x + o.reshape(T, n_head * hd) @ g[b + "attn_output.weight"].T
        h = rms(x, g[b + "ffn_norm.weight"])
        gate = h @ g[b + "ffn_gate.weight"].T
        up = h @ g[b + "ffn_up.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ g[b + "ffn_down.weight"].T
    x = rms(x, g["output_norm.weight"])
    W = g.get("output.weight", E)
    return x @ W.T
