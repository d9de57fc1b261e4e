#!/usr/bin/env python3
"""Checks and times the flash attention and score-sum kernels (gpu-kernels/src/main/cuda/flash_attention.cu)
on the GPU machine, against a float32 torch reference and against torch's scaled_dot_product_attention.

  python3 attn_check.py --cubin flash_attention.cubin [--out DIR] [--skip-timing]

Correctness (fresh random bf16 inputs per case, outputs poisoned with NaN before each run, NaN never
passes): output rel. L2 error <= 1e-2 (bf16 P and bf16 output rounding; f32 output <= 6e-3), log2-sum-exp
abs. error <= 2e-3, score sums (§4 weights, β = 0.9999999 and β = 0.9, max and mean head reduction)
rel. L2 error <= 2e-3 against the float32 reference computed from the same bf16 inputs.
Timing: median of CUDA-event-timed runs after warm-up; TFLOP/s counts only the query-key pairs that are
attended (4·H·D per pair for attention, 2·H·D for the score pass)."""
import argparse, json, math, os, sys, time
import torch
import torch.nn.functional as F
from attn_ops import Attention, FLASH, COLSUM

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
LOG2E = math.log2(math.e)


def sample_weights(nQ, nKeys, step, skip, device):
    """attn_colsum3's query sampling as a [nQ, nKeys] factor: blocks of 256 keys that are all cached keys count
    the queries i with (nQ-1-i) % step == 0, times step; other blocks count every query; skipped keys 0."""
    nC = nKeys - nQ
    i = torch.arange(nQ, device=device)[:, None]
    j = torch.arange(nKeys, device=device)[None, :]
    cached_block = (j // 256 + 1) * 256 <= nC
    sampled = ((nQ - 1 - i) % step == 0).float() * step
    w = torch.where(cached_block, sampled.expand(nQ, nKeys), torch.ones(nQ, nKeys, device=device))
    w[:, skip[0]:skip[1]] = 0
    return w


def reference(q, k, v, beta, mean, step=1, skip=(0, 0)):
    """float32 attention, log2-sum-exp and §4 score sums for the chunk layout (cached keys, then causal chunk);
    with step > 1 or a skip range, the score sums are those attn_colsum3 estimates (sample_weights)."""
    H, nQ, D = q.shape
    G, nKeys, _ = k.shape
    nC, group = nKeys - nQ, H // G
    scale = 1.0 / math.sqrt(D)
    i = torch.arange(nQ, device=q.device)[:, None]
    j = torch.arange(nKeys, device=q.device)[None, :]
    visible = j <= nC + i
    # §4 weights in float64, then float32: cached keys (1-β)β^(nQ-1-i); chunk keys (1-β)β^(i-j').
    dist = torch.where(j < nC, (nQ - 1 - i).expand(nQ, nKeys), i - (j - nC)).double()
    weight = ((1 - beta) * torch.pow(torch.tensor(beta, dtype=torch.float64, device=q.device), dist.clamp(min=0))).float() \
        if beta is not None else torch.ones(nQ, nKeys, device=q.device)
    if step > 1 or skip[1] > skip[0]:
        weight = weight * sample_weights(nQ, nKeys, step, skip, q.device)
    out = torch.empty(H, nQ, D, device=q.device)
    lse = torch.empty(H, nQ, device=q.device)
    per_head = torch.empty(H, nKeys, device=q.device)
    for h in range(H):
        g = h // group
        s = (q[h].float() @ k[g].float().T) * scale
        s.masked_fill_(~visible, float("-inf"))
        l = torch.logsumexp(s, -1)
        a = torch.exp(s - l[:, None])
        out[h] = a @ v[g].float()
        lse[h] = l * LOG2E
        per_head[h] = (a * weight).sum(0)
        del s, a
    ph = per_head.view(G, group, nKeys)
    scores = ph.mean(1) if mean else ph.amax(1)
    return out, lse, scores


def rel(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def check_case(att, nQ, nKeys, H, G, D, out_f32=False, sharp=1.0, beta=0.9999999, mean=False, seed=0, step=1,
               skip=(0, 0)):
    """One shape, fresh random inputs: the current flash version, then the current score-sum version (with
    att.query_step = step and att.skip = skip for attn_colsum3), outputs poisoned with NaN first."""
    gen = torch.Generator(device="cuda").manual_seed(seed)
    q = (torch.randn(H, nQ, D, device="cuda", generator=gen) * sharp).bfloat16()
    k = torch.randn(G, nKeys, D, device="cuda", generator=gen).bfloat16()
    v = torch.randn(G, nKeys, D, device="cuda", generator=gen).bfloat16()
    o = torch.full((H, nQ, D), float("nan"), device="cuda", dtype=torch.float32 if out_f32 else torch.bfloat16)
    lse = torch.full((H, nQ), float("nan"), device="cuda")
    sc = torch.full((G, nKeys), float("nan"), device="cuda")
    if att.colsum_version == "attn_colsum2":
        step, skip = 1, (0, 0)
    att.query_step, att.skip = step, skip
    att.flash(q, k, v, o, lse)
    att.colsum(q, k, lse, sc, beta=beta, mean=mean)
    torch.cuda.synchronize()
    att.query_step, att.skip = 1, (0, 0)
    ro, rl, rs = reference(q, k, v, beta, mean, step, skip)
    finite = bool(torch.isfinite(o).all() and torch.isfinite(lse).all() and torch.isfinite(sc).all())
    eo, el, es = rel(o, ro), (lse - rl).abs().max().item(), rel(sc, rs)
    skipped_zero = bool((sc[:, skip[0]:skip[1]] == 0).all())
    tol_o = 6e-3 if out_f32 else 1e-2
    ok = finite and eo <= tol_o and el <= 2e-3 and es <= 2e-3 and skipped_zero
    return dict(case="check", nQ=nQ, nKeys=nKeys, H=H, G=G, D=D, out="f32" if out_f32 else "bf16", sharp=sharp,
                beta=beta, reduce="mean" if mean else "max", step=step, skip=list(skip), out_rel=eo, lse_abs=el,
                score_rel=es, all_written=finite, ok=ok)


def median_ms(fn, reps=20, warm=3):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b))
    ts.sort()
    return ts[len(ts) // 2], ts[0], ts[-1]


def sdpa_equal_work(q4, k4, v4, nQ, nKeys):
    """SDPA on exactly our work: bottom-right-aligned causal mask (cached keys fully visible)."""
    try:
        from torch.nn.attention.bias import causal_lower_right
        bias = causal_lower_right(nQ, nKeys)
        F.scaled_dot_product_attention(q4, k4, v4, attn_mask=bias, enable_gqa=True)
        return lambda: F.scaled_dot_product_attention(q4, k4, v4, attn_mask=bias, enable_gqa=True), "causal_lower_right"
    except Exception as e:  # older torch or backend without it
        print(f"causal_lower_right unavailable ({e}); equal-work SDPA not measured", file=sys.stderr)
        return None, None


def timing(att, nQ, nKeys, H=32, G=8, D=128, reps=20):
    q = torch.randn(H, nQ, D, device="cuda").bfloat16()
    k = torch.randn(G, nKeys, D, device="cuda").bfloat16()
    v = torch.randn(G, nKeys, D, device="cuda").bfloat16()
    o = torch.empty(H, nQ, D, device="cuda", dtype=torch.bfloat16)
    lse = torch.empty(H, nQ, device="cuda")
    sc = torch.empty(G, nKeys, device="cuda")
    nC = nKeys - nQ
    pairs = nQ * nC + nQ * (nQ + 1) / 2          # attended query-key pairs per head
    fl_att, fl_sc = 4 * H * D * pairs, 2 * H * D * pairs
    rows = []

    def row(what, ms, flops):
        rows.append(dict(what=what, nQ=nQ, nKeys=nKeys, ms=ms[0], min=ms[1], max=ms[2], tflops=flops / ms[0] / 1e9))

    keep = att.flash_version, att.colsum_version
    for fv in att.flash_versions(D):
        att.flash_version = fv
        row(f"ours {fv}", median_ms(lambda: att.flash(q, k, v, o, lse), reps), fl_att)
    nC = nKeys - nQ
    settled = (0, 16383) if nC == 65536 else (0, 0)   # as if the first 16,383 were the last cascade but its newest
    modes = [("attn_colsum2", 1, (0, 0)), ("attn_colsum3", 1, settled), ("attn_colsum3", 8, settled)]
    if "attn_colsum4" in att.colsum_versions(D):
        modes += [("attn_colsum4", 1, (0, 0)), ("attn_colsum4", 1, settled), ("attn_colsum4", 8, settled)]
    for cv, step, skip in modes:
        att.colsum_version, att.query_step, att.skip = cv, step, skip
        row(f"ours {cv} step {step} skip {skip[1] - skip[0]} (score sums)",
            median_ms(lambda: att.colsum(q, k, lse, sc, beta=0.9999999), reps), fl_sc)
    att.query_step, att.skip = 1, (0, 0)
    att.flash_version, att.colsum_version = keep
    q4, k4, v4 = q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)
    if nQ == nKeys:
        fn = lambda: F.scaled_dot_product_attention(q4, k4, v4, is_causal=True, enable_gqa=True)
        how = "is_causal"
    else:
        fn, how = sdpa_equal_work(q4, k4, v4, nQ, nKeys)
    if fn is not None:
        row(f"sdpa {how} (default backend)", median_ms(fn, reps), fl_att)
        try:
            from torch.nn.attention import sdpa_kernel, SDPBackend
            for name, be in [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]:
                def forced():
                    with sdpa_kernel(be):
                        fn()
                try:
                    row(f"sdpa {how} {name}-only", median_ms(forced, reps), fl_att)
                except Exception as e:
                    print(f"{name}-only SDPA failed: {str(e)[:200]}", file=sys.stderr)
        except Exception as e:
            print(f"sdpa_kernel unavailable: {e}", file=sys.stderr)
    if nQ != nKeys:   # the anchor's chunk: non-causal over cache + chunk (slightly more work)
        fn = lambda: F.scaled_dot_product_attention(q4, k4, v4, enable_gqa=True)
        row("sdpa non-causal (anchor chunk)", median_ms(fn, reps), 4 * H * D * nQ * nKeys)
    # Our default kernel once more, to show the spread between identical runs.
    for fv in att.flash_versions(D):
        att.flash_version = fv
        row(f"ours {fv} (again)", median_ms(lambda: att.flash(q, k, v, o, lse), reps), fl_att)
    att.flash_version = keep[0]
    del q, k, v, o
    torch.cuda.empty_cache()
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cubin", required=True)
    p.add_argument("--cubin90", default=None, help="the sm_90a module (flash_attn3), on compute capability 9.0")
    p.add_argument("--out", default=".")
    p.add_argument("--skip-timing", action="store_true")
    p.add_argument("--stride-only", action="store_true", help="time the stride shape only (not full causal 32K)")
    a = p.parse_args()
    cc = torch.cuda.get_device_capability()
    att = Attention(a.cubin, a.cubin90 if cc == (9, 0) else None)
    print(f"device: {torch.cuda.get_device_name()} (cc {cc}), torch {torch.__version__}")
    cases = [
        dict(nQ=1, nKeys=1000, H=32, G=8, D=128),
        dict(nQ=1, nKeys=1, H=6, G=2, D=64),
        dict(nQ=17, nKeys=17, H=6, G=2, D=64),
        dict(nQ=17, nKeys=3000, H=32, G=8, D=128, mean=True),
        dict(nQ=17, nKeys=3000, H=32, G=8, D=64, out_f32=True),
        dict(nQ=200, nKeys=200, H=6, G=2, D=128),
        dict(nQ=512, nKeys=512 + 4096, H=6, G=2, D=128, sharp=4.0, step=8, skip=(7, 1300)),
        dict(nQ=512, nKeys=1000, H=6, G=2, D=64, beta=0.9, step=4),
        dict(nQ=4096, nKeys=4096, H=32, G=8, D=64),
        dict(nQ=4096, nKeys=4096, H=8, G=2, D=128, sharp=2.0),
        dict(nQ=4096, nKeys=4096 + 65536, H=32, G=8, D=128, step=8, skip=(64, 64 + 16383)),
        dict(nQ=4096, nKeys=4096 + 65536 + 77, H=6, G=2, D=128, out_f32=True, sharp=3.0, step=16, skip=(100, 700)),
        dict(nQ=1000, nKeys=1000 + 333, H=4, G=4, D=128, beta=0.9, mean=True, step=3),
    ]
    results, allok = [], True
    for n, c in enumerate(cases):
        pairs = [("flash_attn2", "attn_colsum2"), ("flash_attn2", "attn_colsum3")]
        if "flash_attn3" in att.flash_versions(c["D"]):
            pairs += [("flash_attn3", "attn_colsum3"), ("flash_attn3", "attn_colsum4")]
        for fv, cv in pairs:
                att.flash_version, att.colsum_version = fv, cv
                t = time.time()
                r = check_case(att, seed=n, **c)
                r["s"] = round(time.time() - t, 1)
                r["kernels"] = f"{fv}+{cv}"
                results.append(r); allok &= r["ok"]
                print(json.dumps(r), flush=True)
    att.flash_version, att.colsum_version = "flash_attn2", "attn_colsum2"
    if not a.skip_timing:
        shapes = [(4096, 4096 + 65536), (32768, 32768)][:1 if a.stride_only else 2]
        for nQ, nKeys in shapes:
            for r in timing(att, nQ, nKeys):
                results.append(r); print(json.dumps(r), flush=True)
    with open(os.path.join(a.out, "attn_check.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"\n{'check':60} {'kernels':26} {'out rel':>8} {'lse abs':>8} {'score rel':>9}  ok")
    for r in results:
        if r.get("case") == "check":
            name = (f"nQ={r['nQ']} nKeys={r['nKeys']} H/G={r['H']}/{r['G']} D={r['D']} {r['out']} {r['reduce']} "
                    f"b={r['beta']} k={r['step']}")
            print(f"{name:60} {r['kernels']:26} {r['out_rel']:8.1e} {r['lse_abs']:8.1e} {r['score_rel']:9.1e}  {r['ok']}")
    bad = [r for r in results if r.get("case") == "check" and not r["ok"]]
    print(f"checks: {sum(1 for r in results if r.get('case') == 'check')} cases x kernel versions, {len(bad)} failed"
          + "".join(f"\n  FAILED {r['kernels']} nQ={r['nQ']} nKeys={r['nKeys']} D={r['D']}" for r in bad))
    print(f"\n{'timing':56} {'nQ':>6} {'nKeys':>6} {'ms':>8} {'TFLOP/s':>8}")
    for r in results:
        if "what" in r:
            print(f"{r['what']:56} {r['nQ']:6d} {r['nKeys']:6d} {r['ms']:8.3f} {r['tflops']:8.1f}")
    print("ALL CHECKS PASS" if allok else "SOME CHECKS FAILED")
    return 0 if allok else 1


if __name__ == "__main__":
    sys.exit(main())
