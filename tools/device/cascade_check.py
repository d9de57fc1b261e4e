#!/usr/bin/env python3
"""Checks the device cascading cache (gpu-kernels/src/main/cuda/cascade_cache.cu) against the Java
CascadingCache on the GPU machine.

  python3 cascade_check.py --cubin-attn flash_attention.cubin --cubin-cache cascade_cache.cubin \
                           --golden cascade_golden.json [--out DIR]

cascade_golden.json is written by the Java test CascadeGoldenExportTest (small configurations fed in
strides with given score sums). For each configuration the same strides and score sums go through the
device kernels; then, per KV head:
  - the document positions held by each cascade (oldest first) and by the sinks equal the Java cache's,
  - the held scores equal the Java cache's bit for bit,
  - every held K/V row is the row of the token at its position (rows were moved, not only labels),
  - rows attended in the next stride (gathered, rotated by cache position) equal a torch reference, and
    the attention output over them is within bf16 tolerance (rel. L2 <= 1e-2) of a float32 reference."""
import argparse, json, math, os, sys
import torch
from attn_ops import Attention
from cascade_ops import CascadeLayer
from attn_check import reference, rel


def rope_ref(x, positions, inv_freq, neox):
    """float32 rotary embedding of rows x [N, D] at the given positions (float64 angles)."""
    ang = positions.double()[:, None] * inv_freq.double()[None, :]
    c, s = torch.cos(ang).float(), torch.sin(ang).float()
    x = x.float().clone()
    D = x.shape[1]
    a, b = (x[:, :D // 2], x[:, D // 2:]) if neox else (x[:, 0::2], x[:, 1::2])
    ra, rb = a * c - b * s, a * s + b * c
    out = torch.empty_like(x)
    if neox:
        out[:, :D // 2], out[:, D // 2:] = ra, rb
    else:
        out[:, 0::2], out[:, 1::2] = ra, rb
    return out


def check_config(att, cubin, cf, D=64, H=4):
    G = cf["kvHeads"]
    strides = cf["strides"]
    tokens = strides[-1]["t0"] + strides[-1]["n"]
    smax = max(s["n"] for s in strides)
    layer = CascadeLayer(cubin, att, H, G, D, cf["sinks"], cf["cascades"] * cf["width"], cf["cascades"], smax + 8,
                         beta=0.9 if cf["scored"] else 0.5, scored=cf["scored"], eager=cf["eager"], theta=10000.0)
    gen = torch.Generator(device="cuda").manual_seed(7)
    kall = torch.randn(G, tokens + 8, D, device="cuda", generator=gen).bfloat16()
    vall = torch.randn(G, tokens + 8, D, device="cuda", generator=gen).bfloat16()
    problems = []
    for st in strides:
        t0, n = st["t0"], st["n"]
        q = torch.randn(H, n, D, device="cuda", generator=gen).bfloat16()
        k, v = kall[:, t0:t0 + n], vall[:, t0:t0 + n]
        if layer.rows() != st["rows"]:
            problems.append(f"stride at {t0}: {layer.rows()} rows held, Java {st['rows']}")
        r_in = torch.tensor(st["r"], device="cuda", dtype=torch.float32) if st["r"] is not None else None
        _, r, rows = layer.attend(q, k, v, scores_in=r_in)
        layer.update(k, v, r, rows, decay=st["decay"])
    torch.cuda.synchronize()
    for g in range(G):
        sinks, hp, hs = layer.held(g)
        if sinks != cf["heldSinks"][g]:
            problems.append(f"head {g} sinks {sinks} != Java {cf['heldSinks'][g]}")
        for c in range(cf["cascades"]):
            if hp[c] != cf["heldPositions"][g][c]:
                problems.append(f"head {g} cascade {c} positions {hp[c]} != Java {cf['heldPositions'][g][c]}")
            js = torch.tensor(cf["heldScores"][g][c], dtype=torch.float32).tolist()
            if hs[c] != js:
                problems.append(f"head {g} cascade {c} scores {hs[c]} != Java {js}")
        # Row contents: each occupied slot holds the K/V row of the token at its position.
        occ = (layer.pos[g] >= 0).nonzero().flatten()
        p = layer.pos[g][occ].long()
        if not torch.equal(layer.keys[g][occ], kall[g][p]) or not torch.equal(layer.values[g][occ], vall[g][p]):
            problems.append(f"head {g}: some K/V rows are not their token's rows")
    # The next stride's attention: gathered rows rotated by cache position, and the output.
    n = min(smax, 5)
    t0 = tokens
    q = torch.randn(H, n, D, device="cuda", generator=gen).bfloat16()
    k, v = kall[:, t0:t0 + n], vall[:, t0:t0 + n]
    o, _, rows = layer.attend(q, k, v, scores_in=torch.zeros(G, layer.rows() + n, device="cuda"))
    torch.cuda.synchronize()
    kref = torch.empty(G, rows + n, D, device="cuda")
    vref = torch.empty(G, rows + n, D, device="cuda", dtype=torch.bfloat16)
    for g in range(G):
        sinks, hp, _ = layer.held(g)
        order = sinks + [x for c in range(cf["cascades"] - 1, -1, -1) for x in hp[c]]
        idx = torch.tensor(order, device="cuda", dtype=torch.long)
        rowsK = torch.cat([kall[g][idx], k[g]])
        kref[g] = rope_ref(rowsK, torch.arange(rows + n, device="cuda"), layer.inv_freq, False)
        vref[g] = torch.cat([vall[g][idx], v[g]])
    kat = layer.kbuf[:G * (rows + n) * D].view(G, rows + n, D)
    vat = layer.vbuf[:G * (rows + n) * D].view(G, rows + n, D)
    ek = rel(kat, kref)
    if not (ek <= 8e-3) or not torch.equal(vat, vref):
        problems.append(f"gathered rows differ from the reference (K rel {ek:.1e}, V equal {torch.equal(vat, vref)})")
    qref = torch.stack([rope_ref(q[h], torch.arange(rows, rows + n, device="cuda"), layer.inv_freq, False) for h in range(H)])
    ro, _, _ = reference(qref.bfloat16(), kref.bfloat16(), vref, None, False)
    eo = rel(o, ro)
    if not (eo <= 1e-2):
        problems.append(f"attention output rel. error {eo:.1e}")
    return dict(config=cf["name"], strides=len(strides), tokens=tokens, rows=rows, k_rel=ek, out_rel=eo,
                ok=not problems, problems=problems[:6])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cubin-attn", required=True)
    p.add_argument("--cubin-cache", required=True)
    p.add_argument("--golden", required=True)
    p.add_argument("--cubin90", default=None, help="the sm_90a module: also check with head dim 128 through flash_attn3")
    p.add_argument("--out", default=".")
    a = p.parse_args()
    cc = torch.cuda.get_device_capability()
    att = Attention(a.cubin_attn, a.cubin90 if cc == (9, 0) else None)
    golden = json.load(open(a.golden))
    results = []
    runs = [(64, "flash_attn2")] + [(128, v) for v in att.flash_versions(128)]
    for D, version in runs:
        att.flash_version = version
        for cf in golden:
            r = check_config(att, a.cubin_cache, cf, D=D)
            r["config"] = f"{r['config']} D={D} {version}"
            results.append(r)
            print(json.dumps(r), flush=True)
    with open(os.path.join(a.out, "cascade_check.json"), "w") as f:
        json.dump(results, f, indent=1)
    ok = all(r["ok"] for r in results)
    print(f"\n{'cascade config':56} {'strides':>7} {'tokens':>6} {'rows':>5} {'out rel':>8}  ok")
    for r in results:
        print(f"{r['config']:56} {r['strides']:7d} {r['tokens']:6d} {r['rows']:5d} {r['out_rel']:8.1e}  {r['ok']}")
    print("CASCADE CHECKS PASS" if ok else "CASCADE CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
