#!/usr/bin/env python3
"""Long-context prefill of ONE attention layer, Llama-3.1-8B attention shape (32 query heads, 8 KV heads,
head dim 128, bf16): our cascade prefill (cache of 65,536 tokens in 4 cascades plus 64 sinks, stride 4096,
the spec's passkey settings) against full causal attention through torch's scaled_dot_product_attention,
in one run on one GPU.

  python3 cascade_bench.py --cubin-attn flash_attention.cubin --cubin-cache cascade_cache.cubin \
                           [--lengths 32768,131072,262144,1048576] [--out DIR]

Per stride our prefill does everything the cache needs, all on the device: gather the held rows in
attention order and apply rotary positions by cache position (queries too), flash attention over
sinks + cache + the causal stride, the exact §4 score sums (second pass, max over each group's heads),
the score EMA and the cache update (acceptance, eviction, selection; K/V rows moved). Inputs are random
(a pool of 3 strides reused: the content does not change the work). Full SDPA is measured at every length
(1M too: ~21 GB of q/k/v/out fit an 80 GB card), median of 3 runs below 256K, one run from 256K.
Timing: CUDA events around the whole prefill (host launches run ahead of the GPU: no sync per stride)."""
import argparse, json, math, os, sys, time
import torch
import torch.nn.functional as F
from attn_ops import Attention
from cascade_ops import CascadeLayer

H, G, D = 32, 8, 128
SINKS, SIZE, CASCADES, STRIDE = 64, 65536, 4, 4096


def events_ms(a, b):
    return a.elapsed_time(b)


def cascade_prefill(att, cubin, n, pool):
    layer = CascadeLayer(cubin, att, H, G, D, SINKS, SIZE, CASCADES, STRIDE)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
    a.record()
    for s in range(n // STRIDE):
        q, k, v = pool[s % len(pool)]
        layer.stride(q, k, v)
    b.record()
    torch.cuda.synchronize()
    ms = a.elapsed_time(b)
    return layer, ms, torch.cuda.max_memory_allocated() - base


def phase_breakdown(layer, pool, strides=6):
    """Per-phase device time of steady-state strides (the cache full)."""
    sums = [0.0] * 4
    for s in range(strides):
        q, k, v = pool[s % len(pool)]
        ev = []
        e0 = torch.cuda.Event(enable_timing=True); e0.record()
        layer.stride(q, k, v, events=ev)
        torch.cuda.synchronize()
        marks = [e0] + ev
        for i in range(4):
            sums[i] += marks[i].elapsed_time(marks[i + 1])
    return [x / strides for x in sums]


def choose_versions(att, pool):
    """Picks the fastest flash and score-sum kernel versions on the steady-state stride shape."""
    from attn_ops import FLASH, COLSUM
    q = pool[0][0]
    k = torch.randn(G, SINKS + SIZE + STRIDE, D, device="cuda").bfloat16()
    o = torch.empty(H, STRIDE, D, device="cuda", dtype=torch.bfloat16)
    lse = torch.empty(H, STRIDE, device="cuda"); sc = torch.empty(G, k.shape[1], device="cuda")

    def t(fn):
        fn(); torch.cuda.synchronize()
        a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(3): fn()
        b.record(); torch.cuda.synchronize()
        return a.elapsed_time(b) / 3
    times = {}
    for fv in FLASH:
        att.flash_version = fv
        times[fv] = t(lambda: att.flash(q, k, k, o, lse))
    for cv in COLSUM:
        att.colsum_version = cv
        times[cv] = t(lambda: att.colsum(q, k, lse, sc, beta=0.9999999))
    att.flash_version = min(FLASH, key=times.get)
    att.colsum_version = min(COLSUM, key=times.get)
    print(json.dumps(dict(version_ms=times, chosen=[att.flash_version, att.colsum_version])), flush=True)
    del k


def full_sdpa(n):
    q = torch.randn(1, H, n, D, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(1, G, n, D, device="cuda", dtype=torch.bfloat16)
    v = torch.randn_like(k)
    fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    if n < 262144:   # warm-up (the smaller lengths run first, so the large ones start warm)
        fn(); torch.cuda.synchronize()
    ts = []
    for _ in range(3 if n < 262144 else 1):
        a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b))
    del q, k, v
    torch.cuda.empty_cache()
    return sorted(ts)[len(ts) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cubin-attn", required=True)
    p.add_argument("--cubin-cache", required=True)
    p.add_argument("--lengths", default="32768,131072,262144,1048576")
    p.add_argument("--out", default=".")
    a = p.parse_args()
    att = Attention(a.cubin_attn)
    lengths = [int(x) for x in a.lengths.split(",")]
    pool = [(torch.randn(H, STRIDE, D, device="cuda").bfloat16(), torch.randn(G, STRIDE, D, device="cuda").bfloat16(),
             torch.randn(G, STRIDE, D, device="cuda").bfloat16()) for _ in range(3)]
    choose_versions(att, pool)
    cascade_prefill(att, a.cubin_cache, 2 * STRIDE, pool)   # warm-up: module loads, first launches
    rows = []
    breakdown = None
    for n in lengths:
        layer, ms, peak = cascade_prefill(att, a.cubin_cache, n, pool)
        if breakdown is None and n >= SINKS + SIZE + STRIDE:
            breakdown = phase_breakdown(layer, pool)
        cache_bytes = layer.bytes()
        del layer
        torch.cuda.empty_cache()
        full = full_sdpa(n)
        r = dict(n=n, cascade_ms=ms, full_sdpa_ms=full, speedup=full / ms, cache_bytes=cache_bytes,
                 peak_extra_bytes=peak, strides=n // STRIDE)
        rows.append(r)
        print(json.dumps(r), flush=True)
    phases = ["gather+rope", "flash attention", "score sums", "cache update"]
    if breakdown:
        print(json.dumps(dict(steady_state_stride_ms=dict(zip(phases, breakdown)), total=sum(breakdown))))
    with open(os.path.join(a.out, "cascade_bench.json"), "w") as f:
        json.dump(dict(rows=rows, steady_state_stride_ms=dict(zip(phases, breakdown)) if breakdown else None,
                       device=torch.cuda.get_device_name(), torch=torch.__version__,
                       kernels=[att.flash_version, att.colsum_version],
                       config=dict(H=H, G=G, D=D, sinks=SINKS, cache=SIZE, cascades=CASCADES, stride=STRIDE)), f, indent=1)
    print(f"\n{'N':>8} {'cascade ms':>11} {'full SDPA ms':>13} {'speed-up':>9} {'cache MiB':>10} {'peak MiB':>9}")
    for r in rows:
        print(f"{r['n']:8d} {r['cascade_ms']:11.1f} {r['full_sdpa_ms']:13.1f} {r['speedup']:9.2f} "
              f"{r['cache_bytes'] / 2**20:10.1f} {r['peak_extra_bytes'] / 2**20:9.1f}")
    print(f"kernels: {att.flash_version} + {att.colsum_version}")
    if breakdown:
        print("steady-state stride (ms): " + ", ".join(f"{p} {x:.3f}" for p, x in zip(phases, breakdown))
              + f", total {sum(breakdown):.3f}")


if __name__ == "__main__":
    main()
