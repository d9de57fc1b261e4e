"""Python wrappers of gpu-kernels/src/main/cuda/flash_attention.cu (launch contract at the top of that
file). Tensors are head-major: q [H, nQ, D], k/v [G, nKeys, D], any strides that are multiples of 8."""
import math
import torch
from cudalib import Module

# Kernel versions (see bench/results/gpu-kernel-notes.md): rows per block and threads per block.
FLASH = {"flash_attn2": (128, 128)}
COLSUM = {"attn_colsum2": 256}   # keys per block (256 threads)


class Attention:
    def __init__(self, cubin, flash="flash_attn2", colsum="attn_colsum2"):
        self.mod = Module(cubin)
        self.flash_version, self.colsum_version = flash, colsum

    def flash(self, q, k, v, o, lse, scale=None):
        H, nQ, D = q.shape
        G, nKeys, _ = k.shape
        if not (1 <= nQ <= nKeys):
            raise ValueError(f"need 1 <= nQ ({nQ}) <= nKeys ({nKeys})")
        scale = 1.0 / math.sqrt(D) if scale is None else scale
        kind = "f32" if o.dtype == torch.float32 else "bf16"
        bm, threads = FLASH[self.flash_version]
        smem = (bm + 4 * 64) * D * 2
        self.mod.launch(f"{self.flash_version}_hd{D}_{kind}", ((nQ + bm - 1) // bm, H), (threads,), smem,
                        q, k, v, o, lse, ("i", nQ), ("i", nKeys), ("i", H), ("i", G),
                        ("l", q.stride(1)), ("l", q.stride(0)), ("l", k.stride(1)), ("l", k.stride(0)),
                        ("l", v.stride(1)), ("l", v.stride(0)), ("l", o.stride(1)), ("l", o.stride(0)),
                        ("f", scale * math.log2(math.e)))

    def colsum(self, q, k, lse, out, beta=None, mean=False, scale=None):
        """out [G, nKeys] f32: §4 score sums (beta None: plain column sums of A), reduced over the group."""
        H, nQ, D = q.shape
        G, nKeys, _ = k.shape
        scale = 1.0 / math.sqrt(D) if scale is None else scale
        log2b, omb = (0.0, 1.0) if beta is None else (math.log2(beta), 1.0 - beta)
        bk = COLSUM[self.colsum_version]
        smem = 2 * 64 * D * 2 + 2 * 2 * 64 * 4
        self.mod.launch(f"{self.colsum_version}_hd{D}", ((nKeys + bk - 1) // bk, G), (256,), smem,
                        q, k, lse, out, ("i", nQ), ("i", nKeys), ("i", H), ("i", G),
                        ("l", q.stride(1)), ("l", q.stride(0)), ("l", k.stride(1)), ("l", k.stride(0)),
                        ("f", scale * math.log2(math.e)), ("f", log2b), ("f", omb), ("i", 1 if mean else 0))
