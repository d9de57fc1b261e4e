"""Loads our prebuilt cubins and launches their kernels through the CUDA driver API (ctypes), on the
context and default stream torch uses, so torch tensors are the buffers and torch events time them.
Every driver call's status is checked and turned into an exception naming the call (as the Java FFM
bindings do)."""
import ctypes

_cuda = ctypes.CDLL("libcuda.so.1")
CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8


def check(status, call):
    if status != 0:
        name = ctypes.c_char_p()
        _cuda.cuGetErrorName(status, ctypes.byref(name))
        raise RuntimeError(f"{call} failed: {name.value.decode() if name.value else status}")


class Module:
    def __init__(self, path):
        import torch
        torch.cuda.init()
        torch.empty(1, device="cuda")  # makes torch's (primary) context current on this thread
        self.handle = ctypes.c_void_p()
        check(_cuda.cuModuleLoad(ctypes.byref(self.handle), path.encode()), f"cuModuleLoad({path})")
        self.functions = {}

    def function(self, name, smem=0):
        f = self.functions.get(name)
        if f is None:
            f = ctypes.c_void_p()
            check(_cuda.cuModuleGetFunction(ctypes.byref(f), self.handle, name.encode()), f"cuModuleGetFunction({name})")
            self.functions[name] = f
        if smem > 48 * 1024:
            check(_cuda.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem),
                  f"cuFuncSetAttribute({name}, {smem})")
        return f

    def launch(self, name, grid, block, smem, *args):
        """args: torch tensors (passed as pointers), or ('i', v) int32, ('l', v) int64, ('f', v) float32,
        ('p', 0) a null pointer."""
        f = self.function(name, smem)
        values = []
        for a in args:
            if isinstance(a, tuple):
                kind, v = a
                values.append({"i": ctypes.c_int32, "l": ctypes.c_int64, "f": ctypes.c_float, "p": ctypes.c_void_p}[kind](v))
            else:
                values.append(ctypes.c_void_p(a.data_ptr()))
        params = (ctypes.c_void_p * len(values))(*[ctypes.cast(ctypes.pointer(v), ctypes.c_void_p) for v in values])
        g = tuple(grid) + (1,) * (3 - len(grid))
        b = tuple(block) + (1,) * (3 - len(block))
        check(_cuda.cuLaunchKernel(f, g[0], g[1], g[2], b[0], b[1], b[2], smem, None, params, None), f"cuLaunchKernel({name})")


def synchronize(what):
    check(_cuda.cuCtxSynchronize(), f"cuCtxSynchronize after {what}")
