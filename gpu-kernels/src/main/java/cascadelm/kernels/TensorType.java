package cascadelm.kernels;

/**
 * Element encodings of weight tensors that the kernels understand, with their GGML type ids and block
 * layouts (values per block, bytes per block) as GGUF stores them.
 */
public enum TensorType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),   // f16 scale, 16 bytes of 4-bit values (low nibbles: 0..15, high: 16..31), offset 8
    Q8_0(8, 32, 34),   // f16 scale, 32 signed bytes
    Q4_K(12, 256, 144), // f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of 4-bit values
    Q6_K(14, 256, 210), // 128 bytes low 4 bits, 64 bytes high 2 bits, 16 int8 scales, f16 d
    BF16(30, 1, 2);

    public final int ggmlId;
    public final int blockSize;
    public final int bytesPerBlock;

    TensorType(int ggmlId, int blockSize, int bytesPerBlock) {
        this.ggmlId = ggmlId;
        this.blockSize = blockSize;
        this.bytesPerBlock = bytesPerBlock;
    }

    /** Bytes taken by {@code count} values; count must be a multiple of the block size. */
    public long bytesFor(long count) {
        if (count % blockSize != 0) {
            throw new IllegalArgumentException(this + " needs a multiple of " + blockSize + " values, got " + count);
        }
        return count / blockSize * bytesPerBlock;
    }

    /** The type with this GGML id, or null when the kernels do not support it. */
    public static TensorType byGgmlId(int id) {
        for (TensorType t : values()) {
            if (t.ggmlId == id) return t;
        }
        return null;
    }
}
