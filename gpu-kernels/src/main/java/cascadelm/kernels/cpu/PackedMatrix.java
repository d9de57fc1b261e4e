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
 * <p>Q4_0, where the vector paths run, is laid out for decoding only, in {@link Q4_0Groups} of rows: group after
 * group, each group's panels one after the other, so that a decoding worker reads its groups as one stream.
 * The rows are padded to whole groups. The batched products, which decode rows to floats, use the GGUF
 * layout in place ({@link #inPlace}).
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
    /** Whether the rows are in {@link Q4_0Groups} (decoding only). */
    final boolean grouped;

    private PackedMatrix(TensorType type, RowKernel kernel, MemorySegment data, int rows, int cols, int panelCols, boolean grouped) {
        this.type = type;
        this.kernel = kernel;
        this.data = data;
        this.rows = rows;
        this.cols = cols;
        this.panelCols = panelCols;
        this.grouped = grouped;
    }

    /** Whether {@link #of} copies the matrix, rather than using its memory as it is. */
    static boolean copies(Matrix w, boolean groupQ4_0) {
        return w.cols() > PANEL_COLS || groups(w.type(), groupQ4_0);
    }

    /** Whether matrices of this type are laid out in {@link Q4_0Groups}: Q4_0, where asked and the vector paths run. */
    private static boolean groups(TensorType type, boolean groupQ4_0) {
        return groupQ4_0 && type == TensorType.Q4_0 && Lanes.QUANT_VECTORS;
    }

    /** The matrix in the CPU layout (Q4_0 in groups): its own memory when it is one panel of a type kept as is, else a copy. */
    static PackedMatrix of(Matrix w) {
        return of(w, PANEL_COLS, true);
    }

    /** The matrix in its GGUF layout as one panel, never copied (also where a copy could not be allocated). */
    static PackedMatrix inPlace(Matrix w) {
        return new PackedMatrix(w.type(), RowKernel.of(w.type()), plain(w.data()), w.rows(), w.cols(), w.cols(), false);
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
        return of(w, panelCols, true);
    }

    /** As {@link #of(Matrix, int)}, with Q4_0 in groups only if {@code groupQ4_0} (else in rows, as the other types). */
    static PackedMatrix of(Matrix w, int panelCols, boolean groupQ4_0) {
        if (panelCols <= 0 || panelCols % 256 != 0) {
            throw new IllegalArgumentException("panel width must be a positive multiple of 256, got " + panelCols);
        }
        boolean grouped = groups(w.type(), groupQ4_0);
        if (w.cols() <= panelCols && !grouped) {
            return inPlace(w);
        }
        int pc = Math.min(panelCols, w.cols());
        int storedRows = grouped ? (w.rows() + Q4_0Groups.G - 1) / Q4_0Groups.G * Q4_0Groups.G : w.rows();
        long bytes = (long) storedRows * w.rowBytes();
        // A shared arena, as a mapped model file has, and plain native segments (plain()): a kernel that met
        // segments of two classes or of two kinds of arena (the file's and an automatic one's) was compiled with
        // field loads and liveness checks on every access, and ran 1.7-2× slower on every matrix of the model.
        // The arena is closed once the copy is unreachable.
        Arena arena = Arena.ofShared();
        MemorySegment copy = arena.allocate(bytes, 64);
        PackedMatrix p = new PackedMatrix(w.type(), RowKernel.of(w.type()), copy, w.rows(), w.cols(), pc, grouped);
        CLEANER.register(p, arena::close);
        long rowBytes = w.rowBytes();
        for (int panel = 0; panel < p.panels(); panel++) {
            if (grouped) {
                for (int g = 0; g < p.groups(); g++) {
                    Q4_0Groups.pack(w.data(), rowBytes, w.rows(), g * Q4_0Groups.G, panel * pc, p.panelWidth(panel) / 32,
                            copy, p.groupSegment(g, panel));
                }
                continue;
            }
            long from = w.type().bytesFor((long) panel * pc);
            long width = w.type().bytesFor(p.panelWidth(panel));
            for (int r = 0; r < w.rows(); r++) {
                MemorySegment.copy(w.data(), r * rowBytes + from, copy, p.segment(r, panel), width);
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

    /** Byte offset of row {@code row}'s part of panel {@code panel} (not for grouped matrices). */
    long segment(int row, int panel) {
        return (long) rows * type.bytesFor((long) panel * panelCols) + row * type.bytesFor(panelWidth(panel));
    }

    /** Groups of {@link Q4_0Groups#G} rows, the last padded. */
    int groups() {
        return (rows + Q4_0Groups.G - 1) / Q4_0Groups.G;
    }

    /** Byte offset of group {@code group}'s part of panel {@code panel} (grouped matrices). */
    long groupSegment(int group, int panel) {
        return (long) group * Q4_0Groups.G * type.bytesFor(cols) + Q4_0Groups.G * type.bytesFor((long) panel * panelCols);
    }

    /**
     * Decodes columns {@code [fromCol, toCol)} of row {@code row} to {@code out[outOffset...]}; the range is
     * block-aligned and lies in one panel.
     */
    void dequantize(int row, int fromCol, int toCol, float[] out, int outOffset) {
        if (grouped) {
            throw new IllegalStateException("grouped Q4_0 is laid out for decoding only; batched products use the GGUF layout");
        }
        int panel = fromCol / panelCols;
        int start = panel * panelCols;
        if (toCol > start + panelWidth(panel)) {
            throw new IllegalArgumentException("columns [" + fromCol + ", " + toCol + ") cross a panel of " + panelCols);
        }
        kernel.dequantize(data, segment(row, panel), fromCol - start, toCol - start, out, outOffset);
    }

    /** The byte at {@code offset} of the CPU layout: for tests of the layout. */
    byte byteAt(long offset) {
        return data.get(ValueLayout.JAVA_BYTE, offset);
    }
}
