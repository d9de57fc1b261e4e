"""Python wrappers of gpu-kernels/src/main/cuda/flash_attention.cu (launch contract at the top of that
file). Tensors are head-major: q [H, nQ, D], k/v [G, nKeys, D], any strides that are multiples of 8."""
import math
import torch
from cudalib import Module

FA_BM, CS_BK = 128, 128


class Attention:
    def __init__(self, cubin):
        self.mod = Module(cubin)

    def flash(self, q, k, v, o, lse, scale=None):
        H, nQ, D = q.shape
        G, nKeys, _ = k.shape
        if not (1 <= nQ <= nKeys):
            raise ValueError(f"need 1 <= nQ ({nQ}) <= nKeys ({nKeys})")
        scale = 1.0 / math.sqrt(D) if scale is None else scale
        kind = "f32" if o.dtype == torch.float32 else "bf16"
        smem = (128 + 4 * 64) * D * 2
        self.mod.launch(f"flash_attn_hd{D}_{kind}", ((nQ + FA_BM - 1) // FA_BM, H), (256,), smem,
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
        smem = 2 * 64 * D * 2 + 2 * 64 * 4
        self.mod.launch(f"attn_colsum_hd{D}", ((nKeys + CS_BK - 1) // CS_BK, G), (256,), smem,
                        q, k, lse, out, ("i", nQ), ("i", nKeys), ("i", H), ("i", G),
                        ("l", q.stride(1)), ("l", q.stride(0)), ("l", k.stride(1)), ("l", k.stride(0)),
                        ("f", scale * math.log2(math.e)), ("f", log2b), ("f", omb), ("i", 1 if mean else 0))
