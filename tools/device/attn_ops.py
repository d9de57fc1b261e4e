"""Python wrappers of gpu-kernels/src/main/cuda/flash_attention.cu and flash_attention_sm90.cu (launch
contracts at the top of those files). Tensors are head-major: q [H, nQ, D], k/v [G, nKeys, D], any strides
that are multiples of 8."""
import math
import torch
from cudalib import Module

# Kernel versions (see bench/results/gpu-kernel-notes.md): rows per block, threads per block, dynamic shared
# memory for head dimension D, and whether the version needs the sm_90a module (head dimension 128 only).
FLASH = {"flash_attn2": (128, 128, lambda D: (128 + 4 * 64) * D * 2, False),
         "flash_attn3": (128, 256, lambda D: 1024 + (128 + 6 * 128) * 128 * 2, True)}
# Score-sum versions: keys per block (256 threads), dynamic shared memory, whether it needs the sm_90a module.
COLSUM = {"attn_colsum2": (256, lambda D: 2 * 64 * D * 2 + 2 * 2 * 64 * 4, False),
          "attn_colsum3": (256, lambda D: 2 * 64 * D * 2 + 2 * 2 * 64 * 4, False),
          "attn_colsum4": (128, lambda D: 1024 + 128 * 256 + 4 * (128 * 256 + 1024), True)}


class Attention:
    def __init__(self, cubin, cubin90=None, flash="flash_attn2", colsum="attn_colsum2"):
        self.mod = Module(cubin)
        self.mod90 = Module(cubin90) if cubin90 else None
        self.flash_version, self.colsum_version = flash, colsum
        # Score-sum options of attn_colsum3 (ignored by attn_colsum2): query step, keys [skip_from, skip_to) skipped.
        self.query_step, self.skip = 1, (0, 0)

    def flash_versions(self, D):
        """The flash versions that run here for head dimension D."""
        return [v for v, (_, _, _, needs90) in FLASH.items() if not needs90 or (self.mod90 is not None and D == 128)]

    def flash(self, q, k, v, o, lse, scale=None):
        H, nQ, D = q.shape
        G, nKeys, _ = k.shape
        if not (1 <= nQ <= nKeys):
            raise ValueError(f"need 1 <= nQ ({nQ}) <= nKeys ({nKeys})")
        scale = 1.0 / math.sqrt(D) if scale is None else scale
        kind = "f32" if o.dtype == torch.float32 else "bf16"
        version = self.flash_version if self.flash_version in self.flash_versions(D) else "flash_attn2"
        bm, threads, smem, needs90 = FLASH[version]
        mod = self.mod90 if needs90 else self.mod
        mod.launch(f"{version}_hd{D}_{kind}", ((nQ + bm - 1) // bm, H), (threads,), smem(D),
                   q, k, v, o, lse, ("i", nQ), ("i", nKeys), ("i", H), ("i", G),
                   ("l", q.stride(1)), ("l", q.stride(0)), ("l", k.stride(1)), ("l", k.stride(0)),
                   ("l", v.stride(1)), ("l", v.stride(0)), ("l", o.stride(1)), ("l", o.stride(0)),
                   ("f", scale * math.log2(math.e)))

    def colsum_versions(self, D):
        """The score-sum versions that run here for head dimension D."""
        return [v for v, (_, _, needs90) in COLSUM.items() if not needs90 or (self.mod90 is not None and D == 128)]

    def colsum(self, q, k, lse, out, beta=None, mean=False, scale=None):
        """out [G, nKeys] f32: §4 score sums (beta None: plain column sums of A), reduced over the group."""
        H, nQ, D = q.shape
        G, nKeys, _ = k.shape
        scale = 1.0 / math.sqrt(D) if scale is None else scale
        log2b, omb = (0.0, 1.0) if beta is None else (math.log2(beta), 1.0 - beta)
        version = self.colsum_version if self.colsum_version in self.colsum_versions(D) else "attn_colsum3"
        bk, smem, needs90 = COLSUM[version]
        mod = self.mod90 if needs90 else self.mod
        extra = [("i", self.query_step), ("i", self.skip[0]), ("i", self.skip[1])] if version != "attn_colsum2" else []
        mod.launch(f"{version}_hd{D}", ((nKeys + bk - 1) // bk, G), (256,), smem(D),
                   q, k, lse, out, ("i", nQ), ("i", nKeys), ("i", H), ("i", G),
                   ("l", q.stride(1)), ("l", q.stride(0)), ("l", k.stride(1)), ("l", k.stride(0)),
                   ("f", scale * math.log2(math.e)), ("f", log2b), ("f", omb), ("i", 1 if mean else 0), *extra)
