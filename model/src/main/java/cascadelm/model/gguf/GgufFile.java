package cascadelm.model.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF model file (versions 2 and 3, little-endian), memory-mapped for as long as it is open.
 * Everything in the header is checked at open, before it is used or anything is allocated for it, so a
 * damaged or hostile file fails with a {@link ModelFormatException} naming the field and its offset.
 * Tensor data is not read, only mapped: its slices stay valid until {@link #close()}.
 *
 * <p>Metadata values follow {@link Metadata}'s types. A uint64 value above {@code Long.MAX_VALUE} keeps
 * its bits (it reads as negative; {@link Long#toUnsignedString} shows it).
 */
public final class GgufFile implements AutoCloseable {
    public static final String ALIGNMENT_KEY = "general.alignment";
    public static final int DEFAULT_ALIGNMENT = 32;
    /** Largest general.alignment accepted; real files use 32, and the cap keeps padding arithmetic safe. */
    public static final long MAX_ALIGNMENT = 1 << 20;
    /** Array depth beyond which we stop: real files nest at most once, and recursion must stay shallow. */
    static final int MAX_ARRAY_DEPTH = 4;
    static final int MAX_DIMS = 4;

    private static final byte[] MAGIC = {'G', 'G', 'U', 'F'};
    // Fewest bytes of one key/value (key length, value type, one-byte value) and of one tensor info
    // (name length, n_dims, one dim, type, offset): bound the counts a file of this size can hold.
    private static final long MIN_KV_BYTES = 8 + 4 + 1;
    private static final long MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;

    private final Path path;
    private final Arena arena;
    private final int version;
    private final Metadata metadata;
    private final long alignment;
    private final List<GgufTensor> tensors;
    private final Map<String, GgufTensor> byName;
    private boolean closed;

    private GgufFile(Path path, Arena arena, int version, Metadata metadata, long alignment, List<GgufTensor> tensors) {
        this.path = path;
        this.arena = arena;
        this.version = version;
        this.metadata = metadata;
        this.alignment = alignment;
        this.tensors = List.copyOf(tensors);
        this.byName = new HashMap<>();
        for (GgufTensor t : tensors) byName.put(t.name(), t);
    }

    /**
     * Maps and checks the file. A missing or unreadable file is an IOException (NoSuchFileException when
     * absent); anything wrong with its content is a ModelFormatException.
     */
    public static GgufFile open(Path path) throws IOException {
        // Shared: executors read weights from several threads. Closed by close(), or here on failure.
        Arena arena = Arena.ofShared();
        try {
            MemorySegment file;
            try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
                // The mapping outlives the channel; a segment (unlike a MappedByteBuffer) may exceed 2 GiB.
                file = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            }
            return read(path, file, arena);
        } catch (Throwable t) {
            arena.close();
            throw t;
        }
    }

    public int version() {
        return version;
    }

    public Metadata metadata() {
        return metadata;
    }

    /** Tensors in file order. */
    public List<GgufTensor> tensors() {
        return tensors;
    }

    /** The tensor with this name, or null. */
    public GgufTensor tensor(String name) {
        return byName.get(name);
    }

    public long alignment() {
        return alignment;
    }

    public Path path() {
        return path;
    }

    /** Unmaps the file: every tensor's data becomes inaccessible. Closing twice does nothing. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }

    private static GgufFile read(Path path, MemorySegment file, Arena arena) {
        GgufCursor in = new GgufCursor(file);
        checkMagic(in);
        int version = readVersion(in);
        long tensorCount = in.count("tensor count", MIN_TENSOR_INFO_BYTES);
        long kvCount = in.count("metadata kv count", MIN_KV_BYTES);

        Map<String, Object> values = new LinkedHashMap<>();
        long alignment = DEFAULT_ALIGNMENT;
        for (long i = 0; i < kvCount; i++) {
            long keyAt = in.position();
            String key = in.string("metadata key #" + i);
            if (values.containsKey(key)) {
                throw ModelFormatException.at("metadata key " + key, keyAt, "duplicate key");
            }
            String field = "metadata " + key;
            long valueAt = in.position();
            Object value = readValue(in, readValueType(in, field + " type"), field, 0);
            if (key.equals(ALIGNMENT_KEY)) {
                alignment = checkAlignment(value, valueAt);
            }
            values.put(key, value);
        }

        List<TensorInfo> infos = new ArrayList<>();
        Map<String, TensorInfo> names = new HashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            long nameAt = in.position();
            TensorInfo info = readTensorInfo(in, "tensor #" + i, alignment);
            if (names.putIfAbsent(info.name, info) != null) {
                throw ModelFormatException.at("tensor " + info.name + " name", nameAt, "duplicate tensor name");
            }
            infos.add(info);
        }

        long dataStart = alignUp(in.position(), alignment);
        List<GgufTensor> tensors = new ArrayList<>();
        for (TensorInfo t : infos) {
            long room = file.byteSize() - dataStart;  // negative when the padding itself is cut off
            if (t.offset > room || t.byteSize > room - t.offset) {
                throw ModelFormatException.at("tensor " + t.name + " offset", t.offsetAt, "data ["
                        + t.offset + ", +" + t.byteSize + ") from the data section at " + dataStart
                        + " runs past the end of the file (" + file.byteSize() + " bytes)");
            }
            tensors.add(new GgufTensor(t.name, t.dims, t.type.id, t.type.name(), dataStart + t.offset, t.byteSize,
                    file.asSlice(dataStart + t.offset, t.byteSize)));
        }
        checkNoOverlap(infos);
        return new GgufFile(path, arena, version, new MapMetadata(values), alignment, tensors);
    }

    private static void checkMagic(GgufCursor in) {
        byte[] found = new byte[4];
        for (int i = 0; i < 4; i++) found[i] = in.u8("magic");
        if (!Arrays.equals(found, MAGIC)) {
            throw ModelFormatException.at("magic", 0, "expected \"GGUF\" (47 47 55 46), found "
                    + String.format("%02x %02x %02x %02x", found[0], found[1], found[2], found[3])
                    + ": not a GGUF file");
        }
    }

    private static int readVersion(GgufCursor in) {
        long at = in.position();
        int v = in.u32("version");
        if (v == 2 || v == 3) return v;
        int swapped = Integer.reverseBytes(v);
        if (swapped >= 1 && swapped <= 3) {
            throw ModelFormatException.at("version", at, "this is a big-endian GGUF file (version " + swapped
                    + "); only little-endian files are supported");
        }
        if (v == 1) {
            throw ModelFormatException.at("version", at, "GGUF version 1 is not supported (only 2 and 3);"
                    + " convert the file with a current llama.cpp");
        }
        throw ModelFormatException.at("version", at, "unknown GGUF version " + Integer.toUnsignedString(v)
                + " (supported: 2 and 3)");
    }

    private static GgufValueType readValueType(GgufCursor in, String field) {
        long at = in.position();
        int id = in.u32(field);
        GgufValueType type = GgufValueType.byId(id);
        if (type == null) {
            throw ModelFormatException.at(field, at, "unknown value type id " + Integer.toUnsignedString(id));
        }
        return type;
    }

    private static Object readValue(GgufCursor in, GgufValueType type, String field, int depth) {
        return switch (type) {
            case STRING -> in.string(field);
            case BOOL -> readBool(in, field);
            case FLOAT32, FLOAT64 -> readReal(in, type, field);
            case ARRAY -> readArray(in, field, depth + 1);
            default -> readInteger(in, type, field);
        };
    }

    private static long readInteger(GgufCursor in, GgufValueType type, String field) {
        return switch (type) {
            case UINT8 -> in.u8(field) & 0xFFL;
            case INT8 -> in.u8(field);
            case UINT16 -> in.u16(field) & 0xFFFFL;
            case INT16 -> in.u16(field);
            case UINT32 -> in.u32(field) & 0xFFFF_FFFFL;
            case INT32 -> in.u32(field);
            case UINT64, INT64 -> in.u64(field);
            default -> throw new IllegalArgumentException(type + " is not an integer type");
        };
    }

    private static double readReal(GgufCursor in, GgufValueType type, String field) {
        return type == GgufValueType.FLOAT32
                ? Float.intBitsToFloat(in.u32(field))
                : Double.longBitsToDouble(in.u64(field));
    }

    private static boolean readBool(GgufCursor in, String field) {
        long at = in.position();
        byte b = in.u8(field);
        if (b != 0 && b != 1) {
            throw ModelFormatException.at(field, at, "bool must be 0 or 1, found " + b);
        }
        return b == 1;
    }

    private static Object readArray(GgufCursor in, String field, int depth) {
        if (depth > MAX_ARRAY_DEPTH) {
            throw ModelFormatException.at(field, in.position(), "arrays nested more than " + MAX_ARRAY_DEPTH + " deep");
        }
        GgufValueType elem = readValueType(in, field + " element type");
        int n = in.arrayLength(field + " element count", elem.minBytes);
        switch (elem) {
            case STRING -> {
                String[] a = new String[n];
                for (int i = 0; i < n; i++) a[i] = in.string(field, i);
                return a;
            }
            case BOOL -> {
                boolean[] a = new boolean[n];
                for (int i = 0; i < n; i++) a[i] = readBool(in, field);
                return a;
            }
            case FLOAT32, FLOAT64 -> {
                double[] a = new double[n];
                for (int i = 0; i < n; i++) a[i] = readReal(in, elem, field);
                return a;
            }
            case ARRAY -> {
                Object[] a = new Object[n];
                for (int i = 0; i < n; i++) a[i] = readArray(in, field + "[" + i + "]", depth + 1);
                return a;
            }
            default -> {
                long[] a = new long[n];
                for (int i = 0; i < n; i++) a[i] = readInteger(in, elem, field);
                return a;
            }
        }
    }

    private static long checkAlignment(Object value, long at) {
        if (!(value instanceof Long a)) {
            throw ModelFormatException.at("metadata " + ALIGNMENT_KEY, at, "must be an integer, found "
                    + value.getClass().getSimpleName());
        }
        if (a < 1 || a > MAX_ALIGNMENT || Long.bitCount(a) != 1) {
            throw ModelFormatException.at("metadata " + ALIGNMENT_KEY, at, a + " is not a power of two from 1 to "
                    + MAX_ALIGNMENT);
        }
        return a;
    }

    /** A tensor info as read, before its extent has been checked against the file. */
    private record TensorInfo(String name, long[] dims, GgmlType type, long byteSize, long offset, long offsetAt) {}

    private static TensorInfo readTensorInfo(GgufCursor in, String where, long alignment) {
        String name = in.string(where + " name");
        String field = "tensor " + name;

        long at = in.position();
        int nDims = in.u32(field + " n_dims");
        if (nDims < 1 || nDims > MAX_DIMS) {
            throw ModelFormatException.at(field + " n_dims", at, Integer.toUnsignedString(nDims)
                    + " dimensions; GGUF allows 1 to " + MAX_DIMS);
        }
        long[] dims = new long[nDims];
        long elements = 1;
        for (int d = 0; d < nDims; d++) {
            at = in.position();
            dims[d] = in.u64(field + " dims[" + d + "]");
            if (dims[d] == 0) {
                throw ModelFormatException.at(field + " dims[" + d + "]", at, "is 0; zero-sized tensors are not allowed");
            }
            if (dims[d] < 0) {
                throw ModelFormatException.at(field + " dims[" + d + "]", at, Long.toUnsignedString(dims[d]) + " is too large");
            }
            try {
                elements = Math.multiplyExact(elements, dims[d]);
            } catch (ArithmeticException e) {
                throw ModelFormatException.at(field + " dims", at, "element count of " + Arrays.toString(dims)
                        + " overflows 64 bits");
            }
        }

        at = in.position();
        int typeId = in.u32(field + " type");
        GgmlType type = GgmlType.byId(typeId);
        if (type == null) {
            throw ModelFormatException.at(field + " type", at, "unknown ggml type id " + Integer.toUnsignedString(typeId));
        }
        // Rows are made of whole blocks (ggml requires it, and so do our matrix kernels).
        if (dims[0] % type.blockSize != 0) {
            throw ModelFormatException.at(field + " dims[0]", at, "row length " + dims[0] + " is not a multiple of "
                    + type + "'s block size " + type.blockSize);
        }
        long byteSize;
        try {
            byteSize = Math.multiplyExact(elements / type.blockSize, (long) type.bytesPerBlock);
        } catch (ArithmeticException e) {
            throw ModelFormatException.at(field + " dims", at, "byte size of " + Arrays.toString(dims) + " " + type
                    + " overflows 64 bits");
        }

        long offsetAt = in.position();
        long offset = in.u64(field + " offset");
        if (offset < 0) {
            throw ModelFormatException.at(field + " offset", offsetAt, Long.toUnsignedString(offset) + " is too large");
        }
        if (offset % alignment != 0) {
            throw ModelFormatException.at(field + " offset", offsetAt, offset + " is not a multiple of the alignment "
                    + alignment);
        }
        return new TensorInfo(name, dims, type, byteSize, offset, offsetAt);
    }

    private static void checkNoOverlap(List<TensorInfo> infos) {
        List<TensorInfo> sorted = new ArrayList<>(infos);
        sorted.sort(Comparator.comparingLong(TensorInfo::offset));
        for (int i = 1; i < sorted.size(); i++) {
            TensorInfo prev = sorted.get(i - 1);
            TensorInfo next = sorted.get(i);
            // Both extents are inside the file by now, so the sum cannot overflow.
            if (next.offset < prev.offset + prev.byteSize) {
                throw ModelFormatException.at("tensor " + next.name + " offset", next.offsetAt, "data at " + next.offset
                        + " overlaps tensor " + prev.name + " [" + prev.offset + ", " + (prev.offset + prev.byteSize) + ")");
            }
        }
    }

    /** value rounded up to a multiple of alignment (a power of two ≤ 1 MiB, value ≥ 0 and below 2^62). */
    static long alignUp(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }
}
