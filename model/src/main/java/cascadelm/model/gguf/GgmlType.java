package cascadelm.model.gguf;

import cascadelm.kernels.TensorType;

/**
 * Every tensor encoding that ggml defines for GGUF files, with its type id and block layout, whether or
 * not cascade-lm can compute with it. The reader needs all of them to check a tensor's extent in the
 * file: a model may carry a tensor we never use, and its bytes must still fit and not overlap others.
 * Sizes follow ggml's C block structs and were checked against gguf-py 0.19; files written by gguf-py
 * and by {@link GgufWriter} were read by the other and agreed.
 * Ids 4, 5, 31-33 and 36-38 belonged to layouts that ggml has removed from GGUF; they are unknown here.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q8_1(9, 32, 36),   // two f16 + 32 int8, as ggml's block_q8_1 (gguf-py 0.19 still says 40: stale)
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    IQ2_XXS(16, 256, 66),
    IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98),
    IQ1_S(19, 256, 50),
    IQ4_NL(20, 32, 18),
    IQ3_S(21, 256, 110),
    IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    IQ1_M(29, 256, 56),
    BF16(30, 1, 2),
    TQ1_0(34, 256, 54),
    TQ2_0(35, 256, 66),
    MXFP4(39, 32, 17),
    NVFP4(40, 64, 36),
    Q1_0(41, 128, 18);

    public final int id;
    public final int blockSize;
    public final int bytesPerBlock;

    GgmlType(int id, int blockSize, int bytesPerBlock) {
        this.id = id;
        this.blockSize = blockSize;
        this.bytesPerBlock = bytesPerBlock;
    }

    /** The type with this ggml id, or null when ggml defines none. */
    public static GgmlType byId(int id) {
        for (GgmlType t : values()) {
            if (t.id == id) return t;
        }
        return null;
    }

    /** The kernels' type for this encoding, or null when cascade-lm cannot compute with it. */
    public TensorType supported() {
        return TensorType.byGgmlId(id);
    }

    public static GgmlType of(TensorType type) {
        return byId(type.ggmlId);
    }
}
