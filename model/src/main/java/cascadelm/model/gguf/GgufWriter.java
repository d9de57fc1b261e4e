package cascadelm.model.gguf;

import cascadelm.kernels.TensorType;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Array;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Builds a GGUF v3 file: metadata and already-encoded tensors (quantization is the caller's business),
 * then {@link #write(Path)}. Every value is checked when it is put, so a mistake fails at its call site.
 *
 * <p>{@link #put(String, Object)} chooses the GGUF type from the Java type:
 * <pre>
 *   String → STRING      Boolean → BOOL      Integer → INT32     Long → INT64
 *   Float → FLOAT32      Double → FLOAT64
 *   String[] → [STRING]  boolean[] → [BOOL]  int[] → [INT32]     long[] → [INT64]
 *   float[] → [FLOAT32]  double[] → [FLOAT64]                    Object[] of arrays → [ARRAY]
 * </pre>
 * Signed types are the lossless default. Where a reader insists on a type (llama.cpp checks that
 * counts such as {@code llama.context_length} and token ids are UINT32), say so with
 * {@link #put(String, GgufValueType, Object)} or {@link #putArray}.
 *
 * <p>Tensors are laid out in the order they were put, each at a multiple of the alignment, and the file
 * is padded to the alignment after the last one as ggml's own writer does.
 */
public final class GgufWriter {
    private final Map<String, byte[]> values = new LinkedHashMap<>();  // key → encoded type and value
    private final List<Tensor> tensors = new ArrayList<>();
    private final Set<String> tensorNames = new HashSet<>();
    private long alignment = GgufFile.DEFAULT_ALIGNMENT;

    // data is asked for only when the file is written (see the streaming putTensor).
    private record Tensor(String name, GgmlType type, long[] dims, long byteSize, Supplier<MemorySegment> data) {}

    /** Sets general.alignment (a power of two up to 1 MiB); the default is 32 and is not written. */
    public GgufWriter alignment(long alignment) {
        if (alignment < 1 || alignment > GgufFile.MAX_ALIGNMENT || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment " + alignment + " is not a power of two from 1 to "
                    + GgufFile.MAX_ALIGNMENT);
        }
        this.alignment = alignment;
        values.remove(GgufFile.ALIGNMENT_KEY);
        if (alignment != GgufFile.DEFAULT_ALIGNMENT) {
            values.put(GgufFile.ALIGNMENT_KEY, encode(GgufValueType.UINT32, alignment));
        }
        return this;
    }

    /** A value whose GGUF type follows from its Java type (see the class comment). */
    public GgufWriter put(String key, Object value) {
        return putEncoded(key, encode(value));
    }

    /** A scalar of the given type: integer types take any integral Number within the type's range. */
    public GgufWriter put(String key, GgufValueType type, Object value) {
        if (type == GgufValueType.ARRAY) {
            throw new IllegalArgumentException("metadata " + key + ": use putArray or put(key, Object) for arrays");
        }
        return putEncoded(key, encode(type, value));
    }

    /** An array whose elements (any Java array of fitting values) are written as elementType. */
    public GgufWriter putArray(String key, GgufValueType elementType, Object array) {
        if (array == null || !array.getClass().isArray()) {
            throw new IllegalArgumentException("metadata " + key + ": not an array");
        }
        if (elementType == GgufValueType.ARRAY) {
            return put(key, array);
        }
        Out out = new Out();
        out.u32(GgufValueType.ARRAY.id);
        out.u32(elementType.id);
        int n = Array.getLength(array);
        out.u64(n);
        for (int i = 0; i < n; i++) {
            writeScalar(out, elementType, Array.get(array, i));
        }
        return putEncoded(key, out.toByteArray());
    }

    public GgufWriter putTensor(String name, TensorType type, long[] dims, byte[] data) {
        return putTensor(name, GgmlType.of(type), dims, MemorySegment.ofArray(data));
    }

    public GgufWriter putTensor(String name, TensorType type, long[] dims, MemorySegment data) {
        return putTensor(name, GgmlType.of(type), dims, data);
    }

    /**
     * A tensor of any ggml type, already encoded; dims[0] varies fastest. The data is not copied: it is
     * read when the file is written.
     */
    public GgufWriter putTensor(String name, GgmlType type, long[] dims, MemorySegment data) {
        long bytes = checkTensor(name, type, dims);
        if (data.byteSize() != bytes) {
            throw new IllegalArgumentException("tensor " + name + ": " + type + " " + Arrays.toString(dims)
                    + " takes " + bytes + " bytes, the data has " + data.byteSize());
        }
        return addTensor(new Tensor(name, type, dims.clone(), bytes, () -> data));
    }

    /**
     * A tensor whose encoded bytes are produced only when {@link #write} reaches it, and dropped once
     * written: files larger than memory (a multi-GB model being generated) take one tensor's worth at a time.
     */
    public GgufWriter putTensor(String name, TensorType type, long[] dims, Supplier<MemorySegment> data) {
        GgmlType t = GgmlType.of(type);
        return addTensor(new Tensor(name, t, dims.clone(), checkTensor(name, t, dims), data));
    }

    private GgufWriter addTensor(Tensor t) {
        tensorNames.add(t.name);
        tensors.add(t);
        return this;
    }

    /** Checks name and shape; returns the tensor's byte size. */
    private long checkTensor(String name, GgmlType type, long[] dims) {
        byte[] utf8 = utf8(name);
        // ggml keeps names in a 64-byte buffer with a terminating zero.
        if (utf8.length == 0 || utf8.length > 63) {
            throw new IllegalArgumentException("tensor name \"" + name + "\" must be 1 to 63 bytes of UTF-8");
        }
        if (tensorNames.contains(name)) {
            throw new IllegalArgumentException("tensor " + name + " is already present");
        }
        if (dims.length < 1 || dims.length > GgufFile.MAX_DIMS) {
            throw new IllegalArgumentException("tensor " + name + ": " + dims.length + " dimensions; GGUF allows 1 to 4");
        }
        long elements = 1;
        for (long d : dims) {
            if (d < 1) {
                    throw new IllegalArgumentException("tensor " + name + ": dimension " + d + " is not positive");
            }
            elements = Math.multiplyExact(elements, d);
        }
        if (dims[0] % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor " + name + ": row length " + dims[0] + " is not a multiple of "
                    + type + "'s block size " + type.blockSize);
        }
        return Math.multiplyExact(elements / type.blockSize, (long) type.bytesPerBlock);
    }

    /** An F32 tensor from floats. */
    public GgufWriter putF32Tensor(String name, long[] dims, float[] values) {
        MemorySegment data = MemorySegment.ofArray(new byte[Math.multiplyExact(values.length, 4)]);
        for (int i = 0; i < values.length; i++) {
            data.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, values[i]);
        }
        return putTensor(name, GgmlType.F32, dims, data);
    }

    /** Writes the file, replacing any file at path. */
    public void write(Path path) throws IOException {
        Out header = new Out();
        header.writeBytes(new byte[] {'G', 'G', 'U', 'F'});
        header.u32(3);
        header.u64(tensors.size());
        header.u64(values.size());
        for (Map.Entry<String, byte[]> kv : values.entrySet()) {
            header.string(kv.getKey());
            header.writeBytes(kv.getValue());
        }
        long offset = 0;
        List<Long> offsets = new ArrayList<>();
        for (Tensor t : tensors) {
            header.string(t.name);
            header.u32(t.dims.length);
            for (long d : t.dims) header.u64(d);
            header.u32(t.type.id);
            header.u64(offset);
            offsets.add(offset);
            offset = GgufFile.alignUp(offset + t.byteSize, alignment);
        }
        byte[] head = header.toByteArray();
        long dataStart = GgufFile.alignUp(head.length, alignment);

        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(ch, ByteBuffer.wrap(head));
            zeros(ch, dataStart - head.length);
            for (int i = 0; i < tensors.size(); i++) {
                Tensor t = tensors.get(i);
                MemorySegment data = t.data.get();
                if (data.byteSize() != t.byteSize) {
                    throw new IllegalStateException("tensor " + t.name + ": the data has " + data.byteSize()
                            + " bytes, its type and dimensions take " + t.byteSize);
                }
                // ByteBuffers stop at 2 GiB: write large tensors a slice at a time.
                for (long at = 0; at < data.byteSize(); at += 1 << 30) {
                    writeFully(ch, data.asSlice(at, Math.min(1 << 30, data.byteSize() - at)).asByteBuffer());
                }
                long end = offsets.get(i) + data.byteSize();
                zeros(ch, GgufFile.alignUp(end, alignment) - end);
            }
        }
    }

    private GgufWriter putEncoded(String key, byte[] encoded) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("metadata key must not be empty");
        }
        if (key.equals(GgufFile.ALIGNMENT_KEY)) {
            throw new IllegalArgumentException("set " + GgufFile.ALIGNMENT_KEY + " with alignment(long)");
        }
        if (values.putIfAbsent(key, encoded) != null) {
            throw new IllegalArgumentException("metadata " + key + " is already set");
        }
        return this;
    }

    /** Type id and value, typed from the Java type. */
    private static byte[] encode(Object value) {
        Out out = new Out();
        writeTyped(out, value);
        return out.toByteArray();
    }

    private static void writeTyped(Out out, Object value) {
        GgufValueType scalar = switch (value) {
            case String s -> GgufValueType.STRING;
            case Boolean b -> GgufValueType.BOOL;
            case Integer i -> GgufValueType.INT32;
            case Long l -> GgufValueType.INT64;
            case Float f -> GgufValueType.FLOAT32;
            case Double d -> GgufValueType.FLOAT64;
            case null, default -> null;
        };
        if (scalar != null) {
            out.u32(scalar.id);
            writeScalar(out, scalar, value);
            return;
        }
        GgufValueType elem = switch (value) {
            case String[] a -> GgufValueType.STRING;
            case boolean[] a -> GgufValueType.BOOL;
            case int[] a -> GgufValueType.INT32;
            case long[] a -> GgufValueType.INT64;
            case float[] a -> GgufValueType.FLOAT32;
            case double[] a -> GgufValueType.FLOAT64;
            case Object[] a -> GgufValueType.ARRAY;
            case null, default -> throw new IllegalArgumentException("no GGUF type for "
                    + (value == null ? "null" : value.getClass().getSimpleName()));
        };
        out.u32(GgufValueType.ARRAY.id);
        out.u32(elem.id);
        int n = Array.getLength(value);
        out.u64(n);
        for (int i = 0; i < n; i++) {
            Object e = Array.get(value, i);
            if (elem == GgufValueType.ARRAY) {
                if (e == null || !e.getClass().isArray()) {
                    throw new IllegalArgumentException("an Object[] value must hold arrays, found "
                            + (e == null ? "null" : e.getClass().getSimpleName()));
                }
                // An element of an array of arrays is written without its own ARRAY type id.
                Out inner = new Out();
                writeTyped(inner, e);
                byte[] b = inner.toByteArray();
                out.write(b, 4, b.length - 4);
            } else {
                writeScalar(out, elem, e);
            }
        }
    }

    private static byte[] encode(GgufValueType type, Object value) {
        Out out = new Out();
        out.u32(type.id);
        writeScalar(out, type, value);
        return out.toByteArray();
    }

    private static void writeScalar(Out out, GgufValueType type, Object value) {
        switch (type) {
            case STRING -> out.string(cast(value, String.class, type));
            case BOOL -> out.write(cast(value, Boolean.class, type) ? 1 : 0);
            case FLOAT32 -> out.u32(Float.floatToRawIntBits(cast(value, Number.class, type).floatValue()));
            case FLOAT64 -> out.u64(Double.doubleToRawLongBits(cast(value, Number.class, type).doubleValue()));
            case UINT8, INT8 -> out.write((int) integer(value, type));
            case UINT16, INT16 -> out.u16((int) integer(value, type));
            case UINT32, INT32 -> out.u32((int) integer(value, type));
            case UINT64, INT64 -> out.u64(integer(value, type));
            case ARRAY -> throw new IllegalArgumentException("ARRAY is not a scalar type");
        }
    }

    /** An integral value checked against the range of the type (UINT64 takes any long as its bits). */
    private static long integer(Object value, GgufValueType type) {
        if (!(value instanceof Long || value instanceof Integer || value instanceof Short || value instanceof Byte)) {
            throw new IllegalArgumentException(type + " needs an integral number, found "
                    + (value == null ? "null" : value.getClass().getSimpleName()));
        }
        long v = ((Number) value).longValue();
        long min = switch (type) {
            case INT8 -> Byte.MIN_VALUE;
            case INT16 -> Short.MIN_VALUE;
            case INT32 -> Integer.MIN_VALUE;
            case INT64, UINT64 -> Long.MIN_VALUE;
            default -> 0;
        };
        long max = switch (type) {
            case UINT8 -> 0xFF;
            case INT8 -> Byte.MAX_VALUE;
            case UINT16 -> 0xFFFF;
            case INT16 -> Short.MAX_VALUE;
            case UINT32 -> 0xFFFF_FFFFL;
            case INT32 -> Integer.MAX_VALUE;
            default -> Long.MAX_VALUE;
        };
        if (v < min || v > max) {
            throw new IllegalArgumentException(v + " is out of range for " + type);
        }
        return v;
    }

    private static <T> T cast(Object value, Class<T> type, GgufValueType as) {
        if (!type.isInstance(value)) {
            throw new IllegalArgumentException(as + " needs a " + type.getSimpleName() + ", found "
                    + (value == null ? "null" : value.getClass().getSimpleName()));
        }
        return type.cast(value);
    }

    /** UTF-8 bytes; getBytes would silently turn a lone surrogate into '?'. */
    private static byte[] utf8(String s) {
        try {
            ByteBuffer b = StandardCharsets.UTF_8.newEncoder().encode(CharBuffer.wrap(s));
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("not valid Unicode (a lone surrogate?): " + s, e);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) ch.write(buffer);
    }

    private static void zeros(FileChannel ch, long n) throws IOException {
        writeFully(ch, ByteBuffer.allocate((int) n));  // n < alignment ≤ 1 MiB
    }

    /** Little-endian GGUF encoding into memory. */
    private static final class Out extends ByteArrayOutputStream {
        void u16(int v) {
            write(v);
            write(v >>> 8);
        }

        void u32(int v) {
            u16(v);
            u16(v >>> 16);
        }

        void u64(long v) {
            u32((int) v);
            u32((int) (v >>> 32));
        }

        void string(String s) {
            byte[] b = utf8(s);
            u64(b.length);
            write(b, 0, b.length);
        }
    }
}
