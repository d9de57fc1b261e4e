#!/usr/bin/env python3
"""One launch of each Hopper kernel on the steady-state stride shape (4,096 queries over 65,600 cached + 4,096 own
keys, 32/8 heads, dim 128), for Nsight Compute:
  ncu --clock-control none --kernel-name regex:'flash_attn3_hd128_bf16|attn_colsum4' --launch-skip 2 \\
      --launch-count 2 --section SpeedOfLight ... python3 prof.py --cubin ... --cubin90 ..."""
import argparse, torch
from attn_ops import Attention

p = argparse.ArgumentParser()
p.add_argument("--cubin", required=True)
p.add_argument("--cubin90", required=True)
a = p.parse_args()
H, G, D, nQ, nK = 32, 8, 128, 4096, 64 + 65536 + 4096
att = Attention(a.cubin, a.cubin90, flash="flash_attn3", colsum="attn_colsum4")
q = torch.randn(H, nQ, D, device="cuda").bfloat16()
k = torch.randn(G, nK, D, device="cuda").bfloat16()
v = torch.randn(G, nK, D, device="cuda").bfloat16()
o = torch.empty(H, nQ, D, device="cuda", dtype=torch.bfloat16)
lse = torch.empty(H, nQ, device="cuda")
sc = torch.empty(G, nK, device="cuda")
att.skip = (64, 64 + 16383)
for _ in range(2):
    att.flash(q, k, v, o, lse)
    att.colsum(q, k, lse, sc, beta=0.9999999)
torch.cuda.synchronize()
print("done")
