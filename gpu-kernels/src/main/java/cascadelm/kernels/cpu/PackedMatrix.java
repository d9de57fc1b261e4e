package cascadelm.kernels.cpu;

import java.lang.foreign.Arena;
import java.lang.ref.Cleaner;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.TensorType;

/**
 * A weight matrix laid out for the CPU kernels: column panels of at most {@link #PANEL_COLS} columns stored
 * one after the other, each panel holding the matrix's rows restricted to its columns, row after row. A
 * matrix of at most PANEL_COLS columns is one panel: its GGUF layout, used in place.
 *
 * <p>Why panels: decoding streams the weights once per token, and with rows of 8192 columns (Llama's
 * ffn_down) the 32 KB of x that every row re-reads measured 2-3× slower from memory than rows of 2048
 * columns, while cutting each row into column ranges in the GGUF layout (strided reads) was slower still.
 * In panels each range of x (8 KB) stays in L1 and the weights are still read sequentially.
 *
 * <p>Q4_0 is also re-laid within each panel row, as {@link Q4_0PackedRows} describes (its scales apart from
 * its quants, the quants offset to signed nibbles), where the vector paths run.
 *
 * <p>Copies are made once per matrix (see {@link Matmul}) in memory of their own, freed once unreachable; the
 * weights must not change after their first product.
 */
final class PackedMatrix {
    private static final Cleaner CLEANER = Cleaner.create();

    /** Columns per panel (a multiple of 256, the largest block, and of the matmul column tiles). */
    static final int PANEL_COLS = 2048;

    final TensorType type;
    final RowKernel kernel;
    final MemorySegment data;
    final int rows;
    final int cols;
    final int panelCols;

    private PackedMatrix(TensorType type, RowKernel kernel, MemorySegment data, int rows, int cols, int panelCols) {
        this.type = type;
        this.kernel = kernel;
        this.data = data;
        this.rows = rows;
        this.cols = cols;
        this.panelCols = panelCols;
    }

    /** Whether {@link #of} copies the matrix, rather than using its memory as it is. */
    static boolean copies(Matrix w) {
        return w.cols() > PANEL_COLS || splitsQ4_0(w.type());
    }

    private static boolean splitsQ4_0(TensorType type) {
        return type == TensorType.Q4_0 && Lanes.QUANT_VECTORS;
    }

    /** The matrix in the CPU layout: its own memory when it is one panel of a type kept as is, else a copy. */
    static PackedMatrix of(Matrix w) {
        return of(w, PANEL_COLS);
    }

    /** The matrix in its GGUF layout as one panel, never copied (also where a copy could not be allocated). */
    static PackedMatrix inPlace(Matrix w) {
        return new PackedMatrix(w.type(), RowKernel.of(w.type()), plain(w.data()), w.rows(), w.cols(), w.cols());
    }

    /**
     * The same memory, with the same lifetime (scope), as a plain native segment: a memory-mapped file's
     * segments are of another class than the copies made here, and see {@link #of(Matrix, int)} for why every
     * kernel must meet one kind of segment.
     */
    static MemorySegment plain(MemorySegment data) {
        return data.isMapped() ? data.reinterpret(data.byteSize()) : data;
    }

    /** As {@link #of(Matrix)} with panels of {@code panelCols} columns (a multiple of 256): tests use small ones. */
    static PackedMatrix of(Matrix w, int panelCols) {
        if (panelCols <= 0 || panelCols % 256 != 0) {
            throw new IllegalArgumentException("panel width must be a positive multiple of 256, got " + panelCols);
        }
        boolean split = splitsQ4_0(w.type());
        RowKernel kernel = split ? Q4_0PackedRows.INSTANCE : RowKernel.of(w.type());
        if (w.cols() <= panelCols && !split) {
            return inPlace(w);
        }
        int pc = Math.min(panelCols, w.cols());
        long bytes = (long) w.rows() * w.rowBytes();
        // A shared arena, as a mapped model file has, and plain native segments (plain()): a kernel that met
        // segments of two classes or of two kinds of arena (the file's and an automatic one's) was compiled with
        // field loads and liveness checks on every access, and ran 1.7-2× slower on every matrix of the model.
        // The arena is closed once the copy is unreachable.
        Arena arena = Arena.ofShared();
        MemorySegment copy = arena.allocate(bytes, 64);
        PackedMatrix p = new PackedMatrix(w.type(), kernel, copy, w.rows(), w.cols(), pc);
        CLEANER.register(p, arena::close);
        long rowBytes = w.rowBytes();
        for (int panel = 0; panel < p.panels(); panel++) {
            long from = w.type().bytesFor((long) panel * pc);
            long width = w.type().bytesFor(p.panelWidth(panel));
            for (int r = 0; r < w.rows(); r++) {
                long src = r * rowBytes + from, dst = p.segment(r, panel);
                if (split) {
                    Q4_0PackedRows.pack(w.data(), src, copy, dst, p.panelWidth(panel) / 32);
                } else {
                    MemorySegment.copy(w.data(), src, copy, dst, width);
                }
            }
        }
        return p;
    }

    int panels() {
        return (cols + panelCols - 1) / panelCols;
    }

    /** Columns of panel {@code panel}: panelCols, or fewer in the last. */
    int panelWidth(int panel) {
        return Math.min(panelCols, cols - panel * panelCols);
    }

    /** Byte offset of row {@code row}'s part of panel {@code panel}. */
    long segment(int row, int panel) {
        return (long) rows * type.bytesFor((long) panel * panelCols) + row * type.bytesFor(panelWidth(panel));
    }

    /**
     * Decodes columns {@code [fromCol, toCol)} of row {@code row} to {@code out[outOffset...]}; the range is
     * block-aligned and lies in one panel.
     */
    void dequantize(int row, int fromCol, int toCol, float[] out, int outOffset) {
        int panel = fromCol / panelCols;
        int start = panel * panelCols;
        if (toCol > start + panelWidth(panel)) {
            throw new IllegalArgumentException("columns [" + fromCol + ", " + toCol + ") cross a panel of " + panelCols);
        }
        kernel.dequantize(data, segment(row, panel), panelWidth(panel), fromCol - start, toCol - start, out, outOffset);
    }

    /** The byte at {@code offset} of the CPU layout: for tests of the layout. */
    byte byteAt(long offset) {
        return data.get(ValueLayout.JAVA_BYTE, offset);
    }
}
