package cascadelm.model.cuda;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.cuda.CudaBackend;
import cascadelm.kernels.cuda.CudaKernels;
import cascadelm.kernels.cuda.DeviceMatrix;

import java.util.ArrayList;
import java.util.List;

/**
 * Several weight matrices over the same input whose outputs sit side by side in one row (Wq|Wk|Wv,
 * Wgate|Wup): one fused product per run of equal encodings, so a file whose Wv is quantised differently (as
 * Q4_K_M files do) still works. Output rows are {@link #rows()} floats wide.
 */
final class StackedLinear implements AutoCloseable {
    private final List<DeviceMatrix> parts = new ArrayList<>();
    private final int[] offsets;
    private final int rows;

    StackedLinear(CudaBackend backend, List<Matrix> matrices) {
        List<int[]> runs = new ArrayList<>();
        int start = 0;
        for (int i = 1; i <= matrices.size(); i++) {
            if (i == matrices.size() || !DeviceMatrix.stackable(List.of(matrices.get(start), matrices.get(i)))) {
                runs.add(new int[]{start, i});
                start = i;
            }
        }
        offsets = new int[runs.size()];
        int at = 0;
        for (int r = 0; r < runs.size(); r++) {
            DeviceMatrix m = DeviceMatrix.stack(backend.device(), matrices.subList(runs.get(r)[0], runs.get(r)[1]));
            parts.add(m);
            offsets[r] = at;
            at += m.rows();
        }
        rows = at;
    }

    int rows() {
        return rows;
    }

    List<DeviceMatrix> parts() {
        return parts;
    }

    /** out (n × rows) = x (n × cols) times every part, side by side. */
    void run(CudaKernels kernels, long x, int n, long out) {
        for (int i = 0; i < parts.size(); i++) {
            kernels.linear(parts.get(i), x, n, out + 4L * offsets[i], rows, 0f);
        }
    }

    @Override
    public void close() {
        parts.forEach(DeviceMatrix::close);
    }
}
