package cascadelm.model.gguf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Assembles GGUF bytes by hand for tests, field by field, independently of {@link GgufWriter}, so that
 * the reader is checked against the format rather than against our own writer.
 */
final class GgufBytes {
    // GGUF value type ids (spelled out here, not taken from GgufValueType, to stay independent).
    static final int UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
            STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12;
    // ggml type ids.
    static final int F32 = 0, F16 = 1, Q8_0 = 8, Q5_K = 13, BF16 = 30;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** Magic, version, tensor count and kv count. */
    static GgufBytes header(int version, long tensors, long kvs) {
        return new GgufBytes().raw("GGUF").u32(version).u64(tensors).u64(kvs);
    }

    GgufBytes raw(String ascii) {
        return raw(ascii.getBytes(StandardCharsets.US_ASCII));
    }

    GgufBytes raw(byte... bytes) {
        out.writeBytes(bytes);
        return this;
    }

    GgufBytes u8(int v) {
        out.write(v);
        return this;
    }

    GgufBytes u16(int v) {
        return u8(v).u8(v >>> 8);
    }

    GgufBytes u32(int v) {
        return u16(v).u16(v >>> 16);
    }

    GgufBytes u64(long v) {
        return u32((int) v).u32((int) (v >>> 32));
    }

    GgufBytes f32(float v) {
        return u32(Float.floatToIntBits(v));
    }

    GgufBytes f64(double v) {
        return u64(Double.doubleToLongBits(v));
    }

    GgufBytes str(String s) {
        return str(s.getBytes(StandardCharsets.UTF_8));
    }

    GgufBytes str(byte[] utf8) {
        return u64(utf8.length).raw(utf8);
    }

    /** A tensor info: name, dims, ggml type id, offset. */
    GgufBytes tensor(String name, int type, long offset, long... dims) {
        str(name).u32(dims.length);
        for (long d : dims) u64(d);
        return u32(type).u64(offset);
    }

    /** Zero bytes up to the next multiple of alignment. */
    GgufBytes pad(int alignment) {
        while (out.size() % alignment != 0) out.write(0);
        return this;
    }

    GgufBytes zeros(int n) {
        for (int i = 0; i < n; i++) out.write(0);
        return this;
    }

    int size() {
        return out.size();
    }

    byte[] bytes() {
        return out.toByteArray();
    }

    Path writeTo(Path file) {
        try {
            return Files.write(file, bytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
