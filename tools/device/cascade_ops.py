"""One attention layer with the cascading KV cache resident on the device: per stride, rotary positions
and key gathering, flash attention, score sums, score EMA and the cache update, all by our kernels
(gpu-kernels/src/main/cuda/{flash_attention,cascade_cache}.cu; launch contracts at the top of each file).
Tensors: q [H, n, D], k/v [G, n, D] bf16 (the stride's un-rotated queries, keys and values)."""
import math
import torch
from cudalib import Module

UPD_SUB = 1024


def mark(events):
    """Records a CUDA event after a phase when timing phases (events: a list to append to)."""
    if events is not None:
        e = torch.cuda.Event(enable_timing=True)
        e.record()
        events.append(e)


class CascadeLayer:
    def __init__(self, cubin, attention, H, G, D, sinks, size, cascades, stride_max, beta=0.9999999, scored=True,
                 eager=True, mean=False, theta=500000.0, neox=False, original_positions=False, score_step=1,
                 skip_settled=False):
        """score_step k > 1: score sums from every k-th query (attn_colsum3's estimate); skip_settled: no sums
        for the last cascade's entries but its newest, which §2 never compares again (exact for the cache)."""
        if size % cascades:
            raise ValueError(f"cache size {size} must be divisible by cascades {cascades}")
        if cascades > 32:
            raise ValueError(f"{cascades} cascades: the device update handles at most 32")
        self.mod, self.att = Module(cubin), attention
        self.H, self.G, self.D, self.S, self.C, self.W = H, G, D, sinks, cascades, size // cascades
        self.Z = sinks + size
        self.beta, self.scored, self.eager, self.mean = beta, scored, eager, mean
        self.neox, self.original = neox, original_positions
        dev = "cuda"
        self.keys = torch.zeros(G, self.Z, D, device=dev, dtype=torch.bfloat16)
        self.values = torch.zeros_like(self.keys)
        self.pos = torch.full((G, self.Z), -1, device=dev, dtype=torch.int32)
        self.score = torch.zeros(G, self.Z, device=dev)
        self.src = torch.zeros(G, self.Z, device=dev, dtype=torch.int32)
        self.ring = torch.zeros(G, 2 * cascades + 1, device=dev, dtype=torch.int32)
        self.inv_freq = (theta ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)).float().to(dev)
        self.kbuf = torch.empty(G * (self.Z + stride_max) * D, device=dev, dtype=torch.bfloat16)
        self.vbuf = torch.empty_like(self.kbuf)
        self.rbuf = torch.empty(G * (self.Z + stride_max), device=dev)
        self.qrot = torch.empty(H * stride_max * D, device=dev, dtype=torch.bfloat16)
        self.out = torch.empty(H * stride_max * D, device=dev, dtype=torch.bfloat16)
        self.lse = torch.empty(H * stride_max, device=dev)
        self.seen = 0
        self.score_step, self.skip_settled = score_step, skip_settled
        self.update_smem = (cascades * (UPD_SUB + 1) * 3 + UPD_SUB) * 4

    def bytes(self):
        """Device memory of the cache state (constant in the document length)."""
        return sum(t.numel() * t.element_size() for t in (self.keys, self.values, self.pos, self.score, self.src, self.ring))

    def rows(self):
        if self.eager:   # eager fill keeps every token until S + M, and the cache never shrinks
            return min(self.seen, self.Z)
        r = self.ring.cpu()
        return int(r[0, 2 * self.C]) + int(r[0, self.C:2 * self.C].sum())

    def attend(self, q, k, v, scores_in=None, events=None):
        """Attention of the stride over the cache + itself; returns (out [H, n, D], scores [G, rows+n]).
        scores_in replaces the computed score sums (tests feed golden values)."""
        H, G, D = self.H, self.G, self.D
        n = q.shape[1]
        rows = self.rows()
        nk = rows + n
        kat = self.kbuf[:G * nk * D].view(G, nk, D)
        vat = self.vbuf[:G * nk * D].view(G, nk, D)
        self.mod.launch("cascade_gather_keys", ((nk + 7) // 8, G), (256,), 0,
                        self.keys, self.values, self.pos, self.ring, k, v, kat, vat, self.inv_freq,
                        ("i", self.S), ("i", self.C), ("i", self.W), ("i", D), ("i", G), ("i", rows), ("i", n),
                        ("l", k.stride(1)), ("l", k.stride(0)), ("i", 1 if self.original else 0),
                        ("i", 1 if self.neox else 0), ("i", self.seen))
        qr = self.qrot[:H * n * D].view(H, n, D)
        self.mod.launch("rope_rows", ((n + 7) // 8, H), (256,), 0, q, qr, self.inv_freq, ("i", n), ("i", H), ("i", D),
                        ("l", q.stride(1)), ("l", q.stride(0)), ("i", self.seen if self.original else rows),
                        ("i", 1 if self.neox else 0))
        mark(events)
        o = self.out[:H * n * D].view(H, n, D)
        lse = self.lse[:H * n].view(H, n)
        self.att.flash(qr, kat, vat, o, lse)
        mark(events)
        r = self.rbuf[:G * nk].view(G, nk)
        if scores_in is not None:
            r.copy_(scores_in)
        elif self.scored:
            if self.score_step > 1 or self.skip_settled or self.att.colsum_version == "attn_colsum4":
                keep = self.att.colsum_version
                self.att.colsum_version = "attn_colsum4" if "attn_colsum4" in self.att.colsum_versions(self.D) \
                    else "attn_colsum3"
                self.att.query_step = self.score_step
                # With the cache full, rows S .. S+W-2 are cascade C-1's entries but its newest (attention order).
                self.att.skip = (self.S, self.S + self.W - 1) if self.skip_settled and rows == self.Z else (0, 0)
                self.att.colsum(qr, kat, lse, r, beta=self.beta, mean=self.mean)
                self.att.colsum_version, self.att.query_step, self.att.skip = keep, 1, (0, 0)
            else:
                self.att.colsum(qr, kat, lse, r, beta=self.beta, mean=self.mean)
        mark(events)
        return o, r, rows

    def update(self, k, v, r, rows, decay=None, events=None):
        """The cache update after the stride's attention (§4 EMA, then §2 for each token); decay β^n as
        a float32, as the Java cache computes it, unless given."""
        G, n = self.G, k.shape[1]
        if decay is None:
            decay = float(torch.tensor(math.pow(self.beta, n), dtype=torch.float32)) if self.scored else 1.0
        sc = 1 if self.scored else 0
        self.mod.launch("cascade_prepare", ((self.Z + 255) // 256, G), (256,), 0, self.score, self.src, self.ring, r,
                        ("i", self.S), ("i", self.C), ("i", self.W), ("i", G), ("i", rows), ("i", n),
                        ("f", decay), ("i", sc))
        maxc = next(m for m in (4, 8, 32) if self.C <= m)
        self.mod.launch(f"cascade_update_c{maxc}", (G,), (256,), self.update_smem, self.pos, self.score, self.src, self.ring, r,
                        ("i", self.S), ("i", self.C), ("i", self.W), ("i", G), ("i", rows), ("i", n),
                        ("i", self.seen), ("i", sc), ("i", 1 if self.eager else 0))
        for level in list(range(self.C - 1, -1, -1)) + ([-1] if self.S > 0 and self.seen < self.S else []):
            count = self.S if level < 0 else self.W
            self.mod.launch("cascade_move_rows", ((count + 255) // 256, G), (256,), 0, self.keys, self.values, self.src,
                            k, v, ("i", self.S), ("i", self.C), ("i", self.W), ("i", self.D), ("i", G), ("i", level),
                            ("l", k.stride(1)), ("l", k.stride(0)))
        mark(events)
        self.seen += n

    def stride(self, q, k, v, events=None):
        o, r, rows = self.attend(q, k, v, events=events)
        self.update(k, v, r, rows, events=events)
        return o

    def held(self, g):
        """(sinks, [positions of cascade c, oldest first], [scores likewise]) of KV head g, read back."""
        ring = self.ring[g].cpu().tolist()
        pos, score = self.pos[g].cpu(), self.score[g].cpu()
        sinks = pos[:ring[2 * self.C]].tolist()
        hp, hs = [], []
        for c in range(self.C):
            idx = [self.S + c * self.W + (ring[c] + i) % self.W for i in range(ring[self.C + c])]
            hp.append(pos[idx].tolist())
            hs.append(score[idx].tolist())
        return sinks, hp, hs
