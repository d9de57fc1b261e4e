#!/usr/bin/env python3
"""How good are the cheaper §4 score sums of attn_colsum3 (gpu-kernels/src/main/cuda/flash_attention.cu)?

  python3 score_sampling.py --cubin flash_attention.cubin --cubin-cache cascade_cache.cubin [--cubin90 ...]
                            [--out DIR] [--strides 64]

1. Rank correlation (Spearman, per KV head, over the cached keys that still compete: all but the settled
   ones) between exact sums and sums from every k-th query, on one stride of the benchmark shape (4,096
   queries over 64 sinks + 65,536 cached + 4,096 own keys, 32/8 heads, dim 128) for k = 4, 8, 16, 32. Two
   kinds of input: uniform random (the benchmark's) and structured (below). The spec (§4) allows an
   approximation whose rank correlation with exact scores stays above 0.95.
2. Cache contents: the same strided prefill (--strides x 4,096 tokens, structured inputs) through the device
   cache three times: exact sums; exact sums with the settled keys skipped (must hold exactly the same
   tokens: the §2 rule never reads those sums); sampled sums (k = 8 and 16) with the skip. Reported: the share
   of held slots whose token differs from the exact run, per cascade, and the correlation of the final scores
   of the tokens both runs hold.

Structured inputs (no real model runs here): per KV head a direction u; key j = a_j·u + noise with a_j
log-normal (heavy hitters), the document's first 64 tokens (the sinks) a_j = 12; queries = c_h·u + noise,
c_h = 4..10 per query head; rotary by cache position (as the cache applies it) turns the shared direction
into a distance-decaying bias, as in trained models (sinks, heavy hitters, locality)."""
import argparse, json, math, os, sys
import torch
from attn_ops import Attention
from cascade_ops import CascadeLayer

H, G, D = 32, 8, 128
SINKS, SIZE, CASCADES, STRIDE = 64, 65536, 4, 4096


def spearman(a, b):
    ra = torch.argsort(torch.argsort(a)).double()
    rb = torch.argsort(torch.argsort(b)).double()
    ra -= ra.mean(); rb -= rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


class Structured:
    """Structured (sink / heavy-hitter / locality) un-rotated q, k, v for consecutive strides."""
    def __init__(self, seed):
        self.gen = torch.Generator(device="cuda").manual_seed(seed)
        u = torch.randn(G, D, device="cuda", generator=self.gen)
        self.u = u / u.norm(dim=1, keepdim=True) * math.sqrt(D) / 4
        self.c = (4 + 6 * torch.rand(H, device="cuda", generator=self.gen))
        self.t = 0

    def stride(self, n=STRIDE):
        g = self.gen
        a = torch.exp(torch.randn(G, n, device="cuda", generator=g) * 1.0) * 1.5
        first = torch.arange(self.t, self.t + n, device="cuda") < SINKS
        a[:, first] = 12.0
        k = a[:, :, None] * self.u[:, None, :] + torch.randn(G, n, D, device="cuda", generator=g)
        uh = self.u.repeat_interleave(H // G, 0)
        q = self.c[:, None, None] * uh[:, None, :] / 4 + torch.randn(H, n, D, device="cuda", generator=g)
        v = torch.randn(G, n, D, device="cuda", generator=g)
        self.t += n
        return q.bfloat16(), k.bfloat16(), v.bfloat16()


def rope(x, positions, inv_freq):
    ang = positions.double()[:, None] * inv_freq.double()[None, :]
    c, s = torch.cos(ang).float(), torch.sin(ang).float()
    x = x.float()
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2], out[..., 1::2] = a * c - b * s, a * s + b * c
    return out.bfloat16()


def one_stride_correlation(att, structured, steps):
    nC = SINKS + SIZE
    nk = nC + STRIDE
    inv = (500000.0 ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)).float().cuda()
    if structured:
        src = Structured(11)
        parts = [src.stride() for _ in range(nk // STRIDE + 1)]
        q = parts[-1][0]
        kall = torch.cat([p[1] for p in parts], 1)
        k = torch.cat([kall[:, :SINKS], kall[:, -(nk - SINKS):]], 1)   # sinks, then the latest tokens
        del parts, kall
        q = rope(q, torch.arange(nC, nk, device="cuda"), inv)
        k = rope(k, torch.arange(nk, device="cuda"), inv)
    else:
        q = torch.randn(H, STRIDE, D, device="cuda").bfloat16()
        k = torch.randn(G, nk, D, device="cuda").bfloat16()
    v = torch.randn(G, nk, D, device="cuda").bfloat16()
    o = torch.empty(H, STRIDE, D, device="cuda", dtype=torch.bfloat16)
    lse = torch.empty(H, STRIDE, device="cuda")
    att.flash(q, k, v, o, lse)
    exact = torch.empty(G, nk, device="cuda")
    att.colsum_version, att.query_step, att.skip = "attn_colsum2", 1, (0, 0)
    att.colsum(q, k, lse, exact, beta=0.9999999)
    compete = torch.ones(nk, dtype=torch.bool, device="cuda")
    compete[SINKS:SINKS + SIZE // CASCADES - 1] = False   # settled
    compete[:SINKS] = False                               # sinks have no score
    compete[nC:] = False                                  # the stride's own keys: exact in every mode
    rows = []
    for step in steps:
        est = torch.empty(G, nk, device="cuda")
        att.colsum_version, att.query_step = "attn_colsum3", step
        att.colsum(q, k, lse, est, beta=0.9999999)
        rho = [spearman(exact[g][compete], est[g][compete]) for g in range(G)]
        relerr = float((est[:, compete] - exact[:, compete]).norm() / exact[:, compete].norm())
        rows.append(dict(inputs="structured" if structured else "random", step=step, spearman_min=min(rho),
                         spearman_mean=sum(rho) / G, rel_l2=relerr))
        print(json.dumps(rows[-1]), flush=True)
    att.colsum_version, att.query_step = "attn_colsum2", 1
    # How concentrated the attention is (share of the mass on the top 1% of cached keys), to describe the inputs.
    top = torch.topk(exact[:, SINKS:nC], (nC - SINKS) // 100, dim=1).values.sum(1) / exact[:, SINKS:nC].sum(1)
    return rows, float(top.mean())


def prefill(att, cubin_cache, strides, step, skip, seed=5):
    layer = CascadeLayer(cubin_cache, att, H, G, D, SINKS, SIZE, CASCADES, STRIDE, score_step=step, skip_settled=skip)
    src = Structured(seed)
    for _ in range(strides):
        q, k, v = src.stride()
        layer.stride(q, k, v)
    torch.cuda.synchronize()
    return layer


def compare(a, b):
    """Share of held slots whose token differs, per cascade (all KV heads), and the rank correlation of the
    scores of the tokens both hold (cascades 0..C-1, per KV head, the minimum)."""
    diff = [0] * CASCADES
    total = [0] * CASCADES
    rhos = []
    for g in range(G):
        _, pa, sa = a.held(g)
        _, pb, sb = b.held(g)
        both_a, both_b = [], []
        for c in range(CASCADES):
            total[c] += len(pa[c])
            diff[c] += sum(1 for x, y in zip(pa[c], pb[c]) if x != y) + abs(len(pa[c]) - len(pb[c]))
            mb = dict(zip(pb[c], sb[c]))
            for p, s in zip(pa[c], sa[c]):
                if p in mb:
                    both_a.append(s); both_b.append(mb[p])
        if len(both_a) > 2:
            rhos.append(spearman(torch.tensor(both_a), torch.tensor(both_b)))
    return [d / max(t, 1) for d, t in zip(diff, total)], (min(rhos) if rhos else float("nan"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cubin", required=True)
    p.add_argument("--cubin90", default=None)
    p.add_argument("--cubin-cache", required=True)
    p.add_argument("--out", default=".")
    p.add_argument("--strides", type=int, default=64)
    a = p.parse_args()
    cc = torch.cuda.get_device_capability()
    att = Attention(a.cubin, a.cubin90 if cc == (9, 0) else None)
    att.flash_version = "flash_attn3" if "flash_attn3" in att.flash_versions(D) else "flash_attn2"
    res = dict(device=torch.cuda.get_device_name(), flash=att.flash_version)
    steps = [4, 8, 16, 32]
    res["random"], _ = one_stride_correlation(att, False, steps)
    res["structured"], res["structured_top1pct_mass"] = one_stride_correlation(att, True, steps)
    # All three runs on one score kernel, so rounding cannot tell them apart.
    att.colsum_version = "attn_colsum4" if "attn_colsum4" in att.colsum_versions(D) else "attn_colsum3"
    exact = prefill(att, a.cubin_cache, a.strides, 1, False)
    skip = prefill(att, a.cubin_cache, a.strides, 1, True)
    d_skip, _ = compare(exact, skip)
    res["skip_settled_differs"] = d_skip
    res["cache"] = []
    for step in (8, 16):
        est = prefill(att, a.cubin_cache, a.strides, step, True)
        d, rho = compare(exact, est)
        res["cache"].append(dict(step=step, slots_differ_per_cascade=d, score_spearman_min=rho))
        del est
    ok_skip = all(x == 0 for x in d_skip)
    res["ok"] = ok_skip and all(r["spearman_min"] > 0.95 for r in res["structured"] + res["random"] if r["step"] == 8)
    with open(os.path.join(a.out, "score_sampling.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(f"\nscore sums from every k-th query vs exact, one stride (Spearman over competing cached keys, per KV head)")
    print(f"{'inputs':12} {'k':>3} {'min rho':>8} {'mean rho':>9} {'rel L2':>8}")
    for r in res["random"] + res["structured"]:
        print(f"{r['inputs']:12} {r['step']:3d} {r['spearman_min']:8.4f} {r['spearman_mean']:9.4f} {r['rel_l2']:8.3f}")
    print(f"structured inputs: top 1% of cached keys hold {res['structured_top1pct_mass']:.1%} of the score mass")
    print(f"prefill {a.strides} strides (structured): skip-settled slots differing from exact per cascade {d_skip}"
          f" -> {'SAME TOKENS' if ok_skip else 'DIFFERENT TOKENS'}")
    for r in res["cache"]:
        print(f"  k={r['step']:2d} + skip: slots holding another token than exact, per cascade "
              + ", ".join(f"{x:.4f}" for x in r["slots_differ_per_cascade"])
              + f"; score rank corr. of common tokens (min over heads) {r['score_spearman_min']:.4f}")
    print("SCORE SAMPLING OK" if res["ok"] else "SCORE SAMPLING NOT OK")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
