package cascadelm.model.gguf;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.TensorType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * One tensor of a {@link GgufFile}, checked at open: its type is known to ggml, its dimensions are
 * positive, whole blocks make up every row, and its bytes lie inside the file. {@code dims} are as GGUF
 * stores them, dims[0] varying fastest (the row length). {@code data} is a slice of the mapped file,
 * valid until the file is closed.
 */
public record GgufTensor(String name, long[] dims, int ggmlType, String typeName, long fileOffset, long byteSize,
                         MemorySegment data) {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public GgufTensor {
        dims = dims.clone();
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    /** Number of values (never overflows: checked when the file was opened). */
    public long elements() {
        long n = 1;
        for (long d : dims) n *= d;
        return n;
    }

    /** The kernels' encoding of this tensor; fails, naming the type, when the kernels have none. */
    public TensorType type() {
        TensorType t = TensorType.byGgmlId(ggmlType);
        if (t == null) {
            String supported = Arrays.stream(TensorType.values()).map(Enum::name).collect(Collectors.joining(", "));
            throw new ModelFormatException("tensor " + name + " has type " + typeName
                    + ", which cascade-lm does not support (supported: " + supported + ")");
        }
        return t;
    }

    /** This tensor as a matrix: dims [cols, rows] give rows × cols; a vector is one row. */
    public Matrix matrix() {
        if (dims.length > 2) {
            throw new ModelFormatException("tensor " + name + " has " + dims.length
                    + " dimensions " + Arrays.toString(dims) + "; a matrix needs 1 or 2");
        }
        long cols = dims[0];
        long rows = dims.length == 2 ? dims[1] : 1;
        if (cols > Integer.MAX_VALUE || rows > Integer.MAX_VALUE) {
            throw new ModelFormatException("tensor " + name + " dimensions " + Arrays.toString(dims)
                    + " are too large for a matrix (at most " + Integer.MAX_VALUE + " rows and columns)");
        }
        return new Matrix(type(), data, (int) rows, (int) cols);
    }

    /** The values of an F32, F16 or BF16 tensor (norm weights, biases) as floats. */
    public float[] toFloats() {
        GgmlType t = GgmlType.byId(ggmlType);
        if (t != GgmlType.F32 && t != GgmlType.F16 && t != GgmlType.BF16) {
            throw new ModelFormatException("tensor " + name + " has type " + typeName
                    + "; only F32, F16 and BF16 tensors can be read as floats");
        }
        long n = elements();
        if (n > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException("tensor " + name + " has " + n + " values, too many for one float[]");
        }
        float[] out = new float[(int) n];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (t) {
                case F32 -> data.get(F32, 4L * i);
                case F16 -> Float.float16ToFloat(data.get(U16, 2L * i));
                // BF16 is the high half of an IEEE float32.
                default -> Float.intBitsToFloat(data.get(U16, 2L * i) << 16);
            };
        }
        return out;
    }

    @Override
    public String toString() {
        return "GgufTensor[" + name + " " + typeName + " " + Arrays.toString(dims) + " at " + fileOffset
                + ", " + byteSize + " bytes]";
    }
}
