package cascadelm.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * cuBLAS through FFM: a handle bound to one stream and the mixed-precision GEMMs (16-bit or 32-bit inputs,
 * float32 accumulation and output). The library is found by the {@code cascade.cuda.cublas} system property or
 * the {@code CASCADE_CUBLAS} environment variable (a path), else by name: libcublas.so.13, .12, libcublas.so,
 * then /usr/local/cuda/lib64. Matrices are column-major, as cuBLAS sees them; device pointers are longs.
 */
public final class Cublas {
    /** cudaDataType_t values. */
    public static final int R_32F = 0, R_16F = 2, R_16BF = 14;
    /** cublasComputeType_t: float32 accumulation; the pedantic one also forbids TF32 for float inputs. */
    public static final int COMPUTE_32F = 68, COMPUTE_32F_PEDANTIC = 69;
    private static final int OP_N = 0, OP_T = 1;
    private static final int GEMM_DEFAULT = -1;
    private static volatile Object library;   // NativeLibrary or the reason (String) it failed

    private final MethodHandle destroy, setStream, gemmEx, gemmStridedBatchedEx;
    private final MemorySegment handle;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment alpha, beta;

    private Cublas(NativeLibrary lib, MemorySegment stream) {
        MethodHandle create = lib.function("cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        destroy = lib.function("cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        setStream = lib.function("cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        MethodHandle setMathMode = lib.function("cublasSetMathMode", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        gemmEx = lib.function("cublasGemmEx", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        gemmStridedBatchedEx = lib.function("cublasGemmStridedBatchedEx", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG,
                JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT,
                JAVA_INT, JAVA_INT));
        alpha = arena.allocate(JAVA_FLOAT);
        beta = arena.allocate(JAVA_FLOAT);
        try {
            MemorySegment p = arena.allocate(ADDRESS);
            check("cublasCreate_v2", (int) create.invokeExact(p));
            handle = p.get(ADDRESS, 0);
            check("cublasSetStream_v2", (int) setStream.invokeExact(handle, stream));
            // CUBLAS_DEFAULT_MATH: tensor cores for 16-bit inputs; float inputs stay true float32 (no TF32).
            check("cublasSetMathMode", (int) setMathMode.invokeExact(handle, 0));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        } catch (Throwable t) {
            arena.close();
            throw new IllegalStateException(t);
        }
    }

    /** A handle whose work goes to {@code stream} of the current context; fails with the reason cuBLAS is missing. */
    public static Cublas create(MemorySegment stream) {
        return new Cublas(library(), stream);
    }

    /** Where cuBLAS is looked for, in order. */
    static List<String> candidates() {
        List<String> c = new ArrayList<>();
        String property = System.getProperty("cascade.cuda.cublas");
        if (property != null && !property.isBlank()) c.add(property.strip());
        String env = System.getenv("CASCADE_CUBLAS");
        if (env != null && !env.isBlank()) c.add(env.strip());
        c.addAll(List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so",
                "/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.12"));
        return c;
    }

    private static NativeLibrary library() {
        Object o = library;
        if (o == null) {
            synchronized (Cublas.class) {
                o = library;
                if (o == null) {
                    try {
                        List<String> c = candidates();
                        // cuBLAS needs cuBLASLt from its own folder; opened first, the loader finds it by soname.
                        for (String path : c) {
                            if (path.contains("/")) {
                                Path p = Path.of(path);
                                String lt = p.getFileName().toString().replace("libcublas.", "libcublasLt.");
                                if (p.getParent() != null) NativeLibrary.preloadIfPresent(p.getParent().resolve(lt));
                            }
                        }
                        o = NativeLibrary.open(c);
                    } catch (NativeLibrary.LibraryNotFoundException e) {
                        o = "cuBLAS not found (" + e.getMessage() + "); set -Dcascade.cuda.cublas=/path/to/libcublas.so.N"
                                + " or CASCADE_CUBLAS";
                    }
                    library = o;
                }
            }
        }
        if (o instanceof NativeLibrary l) return l;
        throw new CudaUnavailableException((String) o);
    }

    private static void check(String call, int status) {
        if (status != 0) throw new CudaException(call, status, statusName(status), null);
    }

    static String statusName(int status) {
        return switch (status) {
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "CUBLAS_STATUS_" + status;
        };
    }

    /**
     * Row-major {@code out[t, r] = β·out[t, r] + Σ_c w[r, c] · x[t, c]}: w is rows × cols, x is n × cols (both of
     * {@code inType}), out is n × rows float32. In cuBLAS's column-major terms: out = wᵀ·x with w as cols × rows.
     */
    public void linear(long w, long x, long out, int rows, int cols, int n, int inType, float betaValue) {
        linear(w, x, out, rows, rows, cols, n, inType, betaValue);
    }

    /** As above, with out's rows {@code ldOut ≥ rows} floats apart (out is a column slice of wider rows). */
    public void linear(long w, long x, long out, int rows, int ldOut, int cols, int n, int inType, float betaValue) {
        alpha.set(JAVA_FLOAT, 0, 1f);
        beta.set(JAVA_FLOAT, 0, betaValue);
        int compute = inType == R_32F ? COMPUTE_32F_PEDANTIC : COMPUTE_32F;
        try {
            check("cublasGemmEx(" + rows + "x" + cols + " by " + n + ")", (int) gemmEx.invokeExact(handle, OP_T, OP_N,
                    rows, n, cols, alpha, w, inType, cols, x, inType, cols, beta, out, R_32F, ldOut, compute, GEMM_DEFAULT));
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** cublasGemmStridedBatchedEx with float32 output, column-major, for batched products (attention kernels). */
    public void gemmStridedBatched(boolean transA, boolean transB, int m, int n, int k, float alphaValue,
                                   long a, int aType, int lda, long strideA, long b, int bType, int ldb, long strideB,
                                   float betaValue, long c, int ldc, long strideC, int batch) {
        alpha.set(JAVA_FLOAT, 0, alphaValue);
        beta.set(JAVA_FLOAT, 0, betaValue);
        try {
            check("cublasGemmStridedBatchedEx", (int) gemmStridedBatchedEx.invokeExact(handle, transA ? OP_T : OP_N,
                    transB ? OP_T : OP_N, m, n, k, alpha, a, aType, lda, strideA, b, bType, ldb, strideB, beta, c, R_32F,
                    ldc, strideC, batch, aType == R_32F ? COMPUTE_32F_PEDANTIC : COMPUTE_32F, GEMM_DEFAULT));
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public void setStream(MemorySegment stream) {
        try {
            check("cublasSetStream_v2", (int) setStream.invokeExact(handle, stream));
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Destroys the handle; the context must still be current. */
    public void close() {
        try {
            check("cublasDestroy_v2", (int) destroy.invokeExact(handle));
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        } finally {
            arena.close();
        }
    }
}
