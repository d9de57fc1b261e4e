"""Minimal, self-contained GGUF v3 writer / reader with reference quantizers.

Written from the GGUF specification (no dependency on llama.cpp's `gguf` package).
Only numpy is needed.

File layout (all little endian):
    magic "GGUF" (4 bytes), version uint32 = 3,
    tensor_count uint64, kv_count uint64,
    kv pairs: key (uint64 length + UTF-8 bytes), value type uint32, value,
    tensor infos: name (gguf string), n_dims uint32, dims uint64[n_dims] (dims[0] = row length,
        i.e. the fastest varying dimension), ggml type uint32, offset uint64 (relative to the
        start of the data section, a multiple of general.alignment),
    zero padding up to a multiple of general.alignment (32 here),
    tensor data (each tensor starting at an aligned offset, zero padding between tensors).

Tensor encodings implemented (ggml type id):
    F32 (0), F16 (1), Q4_0 (2), Q8_0 (8), Q4_K (12), Q6_K (14), BF16 (30).
Each quantizer follows ggml's reference (`*_ref`) C code, evaluated with float32 arithmetic;
Q4_K / Q6_K use a simpler (valid, but not ggml's search-based) choice of scales. Every encoder
has a matching decoder (`dequantize`) that gives the exact float32 values an engine must see.
"""

import struct

import numpy as np

# ---- GGUF metadata value types -------------------------------------------------------------
GGUF_UINT8, GGUF_INT8, GGUF_UINT16, GGUF_INT16, GGUF_UINT32, GGUF_INT32 = 0, 1, 2, 3, 4, 5
GGUF_FLOAT32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY = 6, 7, 8, 9
GGUF_UINT64, GGUF_INT64, GGUF_FLOAT64 = 10, 11, 12

_SCALAR_FMT = {
    GGUF_UINT8: "<B", GGUF_INT8: "<b", GGUF_UINT16: "<H", GGUF_INT16: "<h",
    GGUF_UINT32: "<I", GGUF_INT32: "<i", GGUF_FLOAT32: "<f", GGUF_BOOL: "<?",
    GGUF_UINT64: "<Q", GGUF_INT64: "<q", GGUF_FLOAT64: "<d",
}

# ---- ggml tensor types ---------------------------------------------------------------------
F32, F16, Q4_0, Q8_0, Q4_K, Q6_K, BF16 = 0, 1, 2, 8, 12, 14, 30
TYPE_NAMES = {F32: "F32", F16: "F16", Q4_0: "Q4_0", Q8_0: "Q8_0", Q4_K: "Q4_K", Q6_K: "Q6_K", BF16: "BF16"}
TYPE_BY_NAME = {v: k for k, v in TYPE_NAMES.items()}
# (elements per block, bytes per block)
BLOCK = {F32: (1, 4), F16: (1, 2), BF16: (1, 2), Q8_0: (32, 34), Q4_0: (32, 18),
         Q4_K: (256, 144), Q6_K: (256, 210)}
# llama.cpp's general.file_type (enum llama_ftype) for a file whose matrices are of one type
FILE_TYPE = {F32: 0, F16: 1, Q4_0: 2, Q8_0: 7, Q4_K: 15, Q6_K: 18, BF16: 32}

QK_K = 256


class U32(int):
    """Marks an int metadata value as uint32 (default for plain ints)."""


class I32(int):
    pass


class U64(int):
    pass


class F32V(float):
    """float metadata value stored as float32 (default for plain floats)."""


class TypedArray:
    """Metadata array with an explicit element type (GGUF_* constant)."""

    def __init__(self, elem_type, values):
        self.elem_type = elem_type
        self.values = list(values)


# ---- float helpers -------------------------------------------------------------------------
def f32_to_f16(x):
    """Round-to-nearest-even float32 -> float16 (what ggml's GGML_FP32_TO_FP16 does)."""
    return np.asarray(x, dtype=np.float32).astype(np.float16)


def f32_to_bf16_bits(x):
    """ggml_compute_fp32_to_bf16: round to nearest even, NaN made quiet. Returns uint16 bits."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    is_nan = (u & 0x7FFFFFFF) > 0x7F800000
    r = ((u + (0x7FFF + ((u >> 16) & 1))) >> 16).astype(np.uint16)
    nan_bits = ((u >> 16) | 64).astype(np.uint16)
    return np.where(is_nan, nan_bits, r)


def bf16_bits_to_f32(b):
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def _roundf(x):
    """C roundf (half away from zero) of float32 values, exactly."""
    x64 = np.asarray(x, dtype=np.float32).astype(np.float64)
    return np.sign(x64) * np.floor(np.abs(x64) + 0.5)


# ---- quantizers (input: float32 array [..., n] with n a multiple of the block size) --------
def quantize_q8_0(x):
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 32)
    amax = np.max(np.abs(x), axis=1)
    d = (amax / np.float32(127.0)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, np.float32(1.0) / d, np.float32(0.0)).astype(np.float32)
    q = _roundf(x * idv[:, None]).astype(np.int8)
    out = np.zeros((x.shape[0], 34), dtype=np.uint8)
    out[:, 0:2] = f32_to_f16(d).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def dequantize_q8_0(raw, n):
    b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 34)[: n // 32]
    d = b[:, 0:2].copy().view(np.float16).astype(np.float32)
    q = b[:, 2:].copy().view(np.int8).astype(np.float32)
    return (q * d).reshape(-1).astype(np.float32)


def quantize_q4_0(x):
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 32)
    idx = np.argmax(np.abs(x), axis=1)  # first index of the largest |x|, like the C loop's strict '<'
    mx = x[np.arange(x.shape[0]), idx]
    d = (mx / np.float32(-8.0)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, np.float32(1.0) / d, np.float32(0.0)).astype(np.float32)
    v = (x * idv[:, None]).astype(np.float32) + np.float32(8.5)
    q = np.minimum(15, np.trunc(v.astype(np.float64)).astype(np.int64)).astype(np.uint8)
    out = np.zeros((x.shape[0], 18), dtype=np.uint8)
    out[:, 0:2] = f32_to_f16(d).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()


def dequantize_q4_0(raw, n):
    b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)[: n // 32]
    d = b[:, 0:2].copy().view(np.float16).astype(np.float32)
    qs = b[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - np.float32(8.0)
    return (q * d).reshape(-1).astype(np.float32)


def _pack_scale_min_k4(sc, mn):
    """Inverse of ggml's get_scale_min_k4: 8 six-bit scales + 8 six-bit mins -> 12 bytes."""
    out = np.zeros(12, dtype=np.uint8)
    for j in range(8):
        s, m = int(sc[j]), int(mn[j])
        if j < 4:
            out[j] |= s & 63
            out[j + 4] |= m & 63
        else:
            out[j + 4] |= (s & 0xF) | ((m & 0xF) << 4)
            out[j - 4] |= (s >> 4) << 6
            out[j] |= (m >> 4) << 6
    return out


def _get_scale_min_k4(j, q):
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)


def quantize_q4_k(x):
    """A valid Q4_K encoding: per 32-sub-block min/max, 6-bit scales, then nearest 4-bit codes."""
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, QK_K)
    out = bytearray()
    for blk in x:
        sub = blk.reshape(8, 32)
        mins = np.maximum(np.float32(0), -sub.min(axis=1)).astype(np.float32)  # subtracted offsets
        scales = ((sub.max(axis=1) + mins) / np.float32(15)).astype(np.float32)
        max_scale, max_min = scales.max(), mins.max()
        d = np.float32(max_scale / 63) if max_scale > 0 else np.float32(0)
        dmin = np.float32(max_min / 63) if max_min > 0 else np.float32(0)
        d16, dmin16 = f32_to_f16(d), f32_to_f16(dmin)
        d_e, dmin_e = np.float32(d16), np.float32(dmin16)
        ls = np.clip(np.rint(scales / d_e) if d_e > 0 else np.zeros(8), 0, 63).astype(np.uint8)
        lm = np.clip(np.rint(mins / dmin_e) if dmin_e > 0 else np.zeros(8), 0, 63).astype(np.uint8)
        packed = _pack_scale_min_k4(ls, lm)
        L = np.zeros((8, 32), dtype=np.uint8)
        for j in range(8):
            sc, m = _get_scale_min_k4(j, packed)
            dl = np.float32(d_e * np.float32(sc))
            ml = np.float32(dmin_e * np.float32(m))
            if dl > 0:
                L[j] = np.clip(np.rint((sub[j] + ml) / dl), 0, 15).astype(np.uint8)
        qs = np.zeros(128, dtype=np.uint8)
        for k in range(4):  # 64 values per 32 bytes: low nibbles = first 32, high = next 32
            qs[32 * k:32 * k + 32] = L[2 * k] | (L[2 * k + 1] << 4)
        out += d16.tobytes() + dmin16.tobytes() + packed.tobytes() + qs.tobytes()
    return bytes(out)


def dequantize_q4_k(raw, n):
    b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 144)[: n // QK_K]
    y = np.zeros((b.shape[0], QK_K), dtype=np.float32)
    for i, blk in enumerate(b):
        d = np.float32(blk[0:2].copy().view(np.float16)[0])
        dmin = np.float32(blk[2:4].copy().view(np.float16)[0])
        scales = blk[4:16]
        q = blk[16:144]
        for k in range(4):
            sc1, m1 = _get_scale_min_k4(2 * k, scales)
            sc2, m2 = _get_scale_min_k4(2 * k + 1, scales)
            d1, mm1 = np.float32(d * np.float32(sc1)), np.float32(dmin * np.float32(m1))
            d2, mm2 = np.float32(d * np.float32(sc2)), np.float32(dmin * np.float32(m2))
            qq = q[32 * k:32 * k + 32]
            y[i, 64 * k:64 * k + 32] = d1 * (qq & 0xF).astype(np.float32) - mm1
            y[i, 64 * k + 32:64 * k + 64] = d2 * (qq >> 4).astype(np.float32) - mm2
    return y.reshape(-1)


def quantize_q6_k(x):
    """A valid Q6_K encoding: int8 scale per 16 values (amax/32), fp16 super-scale."""
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, QK_K)
    out = bytearray()
    for blk in x:
        sub = blk.reshape(16, 16)
        amax_i = np.argmax(np.abs(sub), axis=1)
        mx = sub[np.arange(16), amax_i]
        scales = (mx / np.float32(-32)).astype(np.float32)
        imax = np.argmax(np.abs(scales))
        d = np.float32(scales[imax] / np.float32(-128)) if scales[imax] != 0 else np.float32(0)
        d16 = f32_to_f16(d)
        d_e = np.float32(d16)
        sc = np.clip(np.rint(scales / d_e) if d_e != 0 else np.zeros(16), -128, 127).astype(np.int8)
        L = np.zeros(QK_K, dtype=np.uint8)
        for j in range(16):
            dl = np.float32(d_e * np.float32(sc[j]))
            if dl != 0:
                L[16 * j:16 * j + 16] = (np.clip(np.rint(sub[j] / dl), -32, 31) + 32).astype(np.uint8)
            else:
                L[16 * j:16 * j + 16] = 32
        ql = np.zeros(128, dtype=np.uint8)
        qh = np.zeros(64, dtype=np.uint8)
        for h in range(2):  # two halves of 128 values
            Lh = L[128 * h:128 * h + 128]
            for l in range(32):
                q1, q2, q3, q4 = Lh[l], Lh[l + 32], Lh[l + 64], Lh[l + 96]
                ql[64 * h + l] = (q1 & 0xF) | ((q3 & 0xF) << 4)
                ql[64 * h + l + 32] = (q2 & 0xF) | ((q4 & 0xF) << 4)
                qh[32 * h + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
        out += ql.tobytes() + qh.tobytes() + sc.tobytes() + d16.tobytes()
    return bytes(out)


def dequantize_q6_k(raw, n):
    b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 210)[: n // QK_K]
    y = np.zeros((b.shape[0], QK_K), dtype=np.float32)
    for i, blk in enumerate(b):
        ql, qh = blk[0:128].astype(np.int32), blk[128:192].astype(np.int32)
        sc = blk[192:208].copy().view(np.int8).astype(np.float32)
        d = np.float32(blk[208:210].copy().view(np.float16)[0])
        for h in range(2):
            l = np.arange(32)
            is_ = l // 16
            qlh, qhh, sch = ql[64 * h:64 * h + 64], qh[32 * h:32 * h + 32], sc[8 * h:8 * h + 8]
            q1 = ((qlh[l] & 0xF) | (((qhh[l] >> 0) & 3) << 4)) - 32
            q2 = ((qlh[l + 32] & 0xF) | (((qhh[l] >> 2) & 3) << 4)) - 32
            q3 = ((qlh[l] >> 4) | (((qhh[l] >> 4) & 3) << 4)) - 32
            q4 = ((qlh[l + 32] >> 4) | (((qhh[l] >> 6) & 3) << 4)) - 32
            base = 128 * h
            y[i, base + l] = np.float32(d) * sch[is_ + 0] * q1.astype(np.float32)
            y[i, base + l + 32] = np.float32(d) * sch[is_ + 2] * q2.astype(np.float32)
            y[i, base + l + 64] = np.float32(d) * sch[is_ + 4] * q3.astype(np.float32)
            y[i, base + l + 96] = np.float32(d) * sch[is_ + 6] * q4.astype(np.float32)
    return y.reshape(-1)


def encode(x, ggml_type):
    """float32 numpy array (any shape, C order, last axis = row) -> raw bytes of that ggml type."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if ggml_type == F32:
        return x.astype("<f4").tobytes()
    if ggml_type == F16:
        return f32_to_f16(x).astype("<f2").tobytes()
    if ggml_type == BF16:
        return f32_to_bf16_bits(x).astype("<u2").tobytes()
    if x.shape[-1] % BLOCK[ggml_type][0] != 0:
        raise ValueError(f"row length {x.shape[-1]} not a multiple of {BLOCK[ggml_type][0]}")
    return {Q8_0: quantize_q8_0, Q4_0: quantize_q4_0, Q4_K: quantize_q4_k, Q6_K: quantize_q6_k}[ggml_type](x)


def dequantize(raw, ggml_type, n):
    """raw bytes of n elements -> float32 vector of n values (what an engine must compute)."""
    if ggml_type == F32:
        return np.frombuffer(raw, dtype="<f4", count=n).astype(np.float32)
    if ggml_type == F16:
        return np.frombuffer(raw, dtype="<f2", count=n).astype(np.float32)
    if ggml_type == BF16:
        return bf16_bits_to_f32(np.frombuffer(raw, dtype="<u2", count=n))
    return {Q8_0: dequantize_q8_0, Q4_0: dequantize_q4_0, Q4_K: dequantize_q4_k,
            Q6_K: dequantize_q6_k}[ggml_type](raw, n)


def nbytes(ggml_type, n):
    per, size = BLOCK[ggml_type]
    assert n % per == 0
    return n // per * size


def roundtrip(x, ggml_type):
    """The effective float32 values of x once stored as ggml_type (same shape)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return dequantize(encode(x, ggml_type), ggml_type, x.size).reshape(x.shape)


# ---- writer --------------------------------------------------------------------------------
def _gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value_type(v):
    if isinstance(v, TypedArray):
        return GGUF_ARRAY
    if isinstance(v, bool):
        return GGUF_BOOL
    if isinstance(v, U64):
        return GGUF_UINT64
    if isinstance(v, I32):
        return GGUF_INT32
    if isinstance(v, int):
        return GGUF_UINT32
    if isinstance(v, float):
        return GGUF_FLOAT32
    if isinstance(v, str):
        return GGUF_STRING
    raise TypeError(f"unsupported metadata value {v!r}")


def _encode_value(vtype, v):
    if vtype == GGUF_STRING:
        return _gguf_str(v)
    if vtype == GGUF_ARRAY:
        body = struct.pack("<IQ", v.elem_type, len(v.values))
        if v.elem_type == GGUF_STRING:
            return body + b"".join(_gguf_str(s) for s in v.values)
        if v.elem_type in _SCALAR_FMT:
            fmt = _SCALAR_FMT[v.elem_type]
            return body + b"".join(struct.pack(fmt, e) for e in v.values)
        raise TypeError("nested arrays not supported")
    return struct.pack(_SCALAR_FMT[vtype], v)


class GGUFWriter:
    def __init__(self, alignment=32):
        self.alignment = alignment
        self.kv = []  # (key, type, value)
        self.tensors = []  # (name, dims, type, raw)
        self.add("general.alignment", U32(alignment))

    def add(self, key, value, vtype=None):
        if any(k == key for k, _, _ in self.kv):
            raise KeyError(f"duplicate key {key}")
        self.kv.append((key, vtype if vtype is not None else _value_type(value), value))

    def add_tensor(self, name, array, ggml_type):
        """array: float32 numpy array in C order (numpy shape [rows, cols] -> GGUF dims [cols, rows])."""
        array = np.ascontiguousarray(array, dtype=np.float32)
        dims = list(reversed(array.shape))
        raw = encode(array, ggml_type)
        assert len(raw) == nbytes(ggml_type, array.size)
        self.tensors.append((name, dims, ggml_type, raw))
        return raw

    def _pad(self, n):
        return (-n) % self.alignment

    def to_bytes(self):
        out = bytearray()
        out += b"GGUF" + struct.pack("<I", 3) + struct.pack("<QQ", len(self.tensors), len(self.kv))
        for key, vtype, value in self.kv:
            out += _gguf_str(key) + struct.pack("<I", vtype) + _encode_value(vtype, value)
        offset = 0
        offsets = []
        for name, dims, ggml_type, raw in self.tensors:
            offsets.append(offset)
            out += _gguf_str(name) + struct.pack("<I", len(dims))
            out += b"".join(struct.pack("<Q", d) for d in dims)
            out += struct.pack("<IQ", ggml_type, offset)
            offset += len(raw) + self._pad(len(raw))
        out += b"\0" * self._pad(len(out))
        for (name, dims, ggml_type, raw), off in zip(self.tensors, offsets):
            out += raw + b"\0" * self._pad(len(raw))
        return bytes(out)

    def write(self, path):
        data = self.to_bytes()
        with open(path, "wb") as f:
            f.write(data)
        return len(data)


# ---- reader (for self-checks) --------------------------------------------------------------
def read_gguf(path_or_bytes):
    """Returns (metadata dict, {name: (ggml_type, dims, raw bytes)}, data_offset)."""
    data = path_or_bytes if isinstance(path_or_bytes, (bytes, bytearray)) else open(path_or_bytes, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return vals[0] if len(vals) == 1 else vals

    def take_str():
        nonlocal pos
        n = take("<Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def take_value(t):
        if t == GGUF_STRING:
            return take_str()
        if t == GGUF_ARRAY:
            et, n = take("<I"), take("<Q")
            return [take_value(et) for _ in range(n)]
        return take(_SCALAR_FMT[t])

    assert data[:4] == b"GGUF", "bad magic"
    pos = 4
    version = take("<I")
    assert version == 3, version
    n_tensors, n_kv = take("<Q"), take("<Q")
    meta = {}
    for _ in range(n_kv):
        key = take_str()
        meta[key] = take_value(take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = take_str()
        nd = take("<I")
        dims = [take("<Q") for _ in range(nd)]
        t, off = take("<I"), take("<Q")
        infos.append((name, dims, t, off))
    align = meta.get("general.alignment", 32)
    data_start = pos + ((-pos) % align)
    tensors = {}
    for name, dims, t, off in infos:
        assert off % align == 0
        n = int(np.prod(dims))
        start = data_start + off
        tensors[name] = (t, dims, bytes(data[start:start + nbytes(t, n)]))
    return meta, tensors, data_start


def tensor_to_numpy(entry):
    """(type, dims, raw) -> float32 array of numpy shape reversed(dims)."""
    t, dims, raw = entry
    n = int(np.prod(dims))
    return dequantize(raw, t, n).reshape(list(reversed(dims)))


if __name__ == "__main__":  # quick self-test
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((8, 512)) * 0.1).astype(np.float32)
    a[0, 5] = 0.0
    a[1, :32] = 0.0  # an all-zero block
    w = GGUFWriter()
    w.add("general.architecture", "test")
    w.add("test.values", TypedArray(GGUF_INT32, [1, -2, 3]))
    for t in (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K):
        w.add_tensor("t." + TYPE_NAMES[t], a, t)
    meta, tensors, _ = read_gguf(w.to_bytes())
    for t in (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K):
        back = tensor_to_numpy(tensors["t." + TYPE_NAMES[t]])
        err = np.abs(back - a).max()
        print(f"{TYPE_NAMES[t]:5s} max abs err {err:.3g}  rel {err / np.abs(a).max():.3g}")
    print(meta)
