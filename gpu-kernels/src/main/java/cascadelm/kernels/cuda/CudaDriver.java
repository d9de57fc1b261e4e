package cascadelm.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * The CUDA driver API functions the backend uses, bound from {@code libcuda.so.1} through FFM. Each wrapper
 * checks the returned CUresult and throws a {@link CudaException} naming the call. Handles (contexts,
 * modules, functions, streams, events) are {@link MemorySegment} addresses; device pointers are longs.
 */
public final class CudaDriver {
    private static final FunctionDescriptor STATUS_PTR = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    private static volatile Object instance;   // a CudaDriver, or the reason (String) it could not be made

    private final MethodHandle cuInit, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName, cuDeviceGetAttribute,
            cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease, cuCtxSetCurrent, cuCtxSynchronize,
            cuMemAlloc, cuMemFree, cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoD, cuMemcpyHtoDAsync, cuMemcpyDtoHAsync,
            cuMemcpyDtoDAsync, cuMemsetD32, cuMemsetD32Async, cuMemGetInfo, cuModuleLoadData, cuModuleGetFunction,
            cuModuleUnload, cuFuncSetAttribute, cuLaunchKernel, cuStreamCreate, cuStreamSynchronize, cuStreamDestroy,
            cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventElapsedTime, cuEventDestroy, cuGetErrorName,
            cuGetErrorString, cuStreamBeginCapture, cuStreamEndCapture, cuGraphInstantiate, cuGraphLaunch,
            cuGraphExecDestroy, cuGraphDestroy, cuMemAllocHost, cuMemFreeHost, cuLaunchKernelEx;

    private CudaDriver(NativeLibrary lib) {
        FunctionDescriptor i = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
        cuInit = lib.function("cuInit", i);
        cuDeviceGetCount = lib.function("cuDeviceGetCount", STATUS_PTR);
        cuDeviceGet = lib.function("cuDeviceGet", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuDeviceGetName = lib.function("cuDeviceGetName", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        cuDeviceGetAttribute = lib.function("cuDeviceGetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        cuDeviceTotalMem = lib.function("cuDeviceTotalMem_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuDevicePrimaryCtxRetain = lib.function("cuDevicePrimaryCtxRetain", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuDevicePrimaryCtxRelease = lib.function("cuDevicePrimaryCtxRelease_v2", i);
        cuCtxSetCurrent = lib.function("cuCtxSetCurrent", STATUS_PTR);
        cuCtxSynchronize = lib.function("cuCtxSynchronize", FunctionDescriptor.of(JAVA_INT));
        cuMemAlloc = lib.function("cuMemAlloc_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
        cuMemFree = lib.function("cuMemFree_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        cuMemcpyHtoD = lib.function("cuMemcpyHtoD_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG));
        cuMemcpyDtoH = lib.function("cuMemcpyDtoH_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
        cuMemcpyDtoD = lib.function("cuMemcpyDtoD_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        cuMemcpyHtoDAsync = lib.function("cuMemcpyHtoDAsync_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS));
        cuMemcpyDtoHAsync = lib.function("cuMemcpyDtoHAsync_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
        cuMemcpyDtoDAsync = lib.function("cuMemcpyDtoDAsync_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS));
        cuMemsetD32 = lib.function("cuMemsetD32_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG));
        cuMemsetD32Async = lib.function("cuMemsetD32Async", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS));
        cuMemGetInfo = lib.function("cuMemGetInfo_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cuMemAllocHost = lib.function("cuMemAllocHost_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
        cuMemFreeHost = lib.function("cuMemFreeHost", STATUS_PTR);
        cuModuleLoadData = lib.function("cuModuleLoadData", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cuModuleGetFunction = lib.function("cuModuleGetFunction", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        cuModuleUnload = lib.function("cuModuleUnload", STATUS_PTR);
        cuFuncSetAttribute = lib.function("cuFuncSetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        cuLaunchKernel = lib.function("cuLaunchKernel", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        // CUDA 12 drivers and newer; without it launches never overlap (canLaunchProgrammatic).
        cuLaunchKernelEx = lib.optionalFunction("cuLaunchKernelEx", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        cuStreamCreate = lib.function("cuStreamCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuStreamSynchronize = lib.function("cuStreamSynchronize", STATUS_PTR);
        cuStreamDestroy = lib.function("cuStreamDestroy_v2", STATUS_PTR);
        cuEventCreate = lib.function("cuEventCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuEventRecord = lib.function("cuEventRecord", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cuEventSynchronize = lib.function("cuEventSynchronize", STATUS_PTR);
        cuEventElapsedTime = lib.function("cuEventElapsedTime", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        cuEventDestroy = lib.function("cuEventDestroy_v2", STATUS_PTR);
        cuGetErrorName = lib.function("cuGetErrorName", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        cuGetErrorString = lib.function("cuGetErrorString", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        cuStreamBeginCapture = lib.function("cuStreamBeginCapture_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuStreamEndCapture = lib.function("cuStreamEndCapture", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cuGraphInstantiate = lib.function("cuGraphInstantiateWithFlags", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
        cuGraphLaunch = lib.function("cuGraphLaunch", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cuGraphExecDestroy = lib.function("cuGraphExecDestroy", STATUS_PTR);
        cuGraphDestroy = lib.function("cuGraphDestroy", STATUS_PTR);
    }

    /**
     * The driver, loaded and initialised once per JVM, or a {@link CudaUnavailableException} saying why not
     * (no libcuda, no device, init failure). Never crashes the JVM on a machine without CUDA.
     */
    public static CudaDriver get() {
        Object o = instance;
        if (o == null) {
            synchronized (CudaDriver.class) {
                o = instance;
                if (o == null) {
                    o = load();
                    instance = o;
                }
            }
        }
        if (o instanceof CudaDriver d) return d;
        throw new CudaUnavailableException((String) o);
    }

    private static Object load() {
        CudaDriver d;
        try {
            d = new CudaDriver(NativeLibrary.open(List.of("libcuda.so.1", "libcuda.so")));
        } catch (NativeLibrary.LibraryNotFoundException e) {
            return "no CUDA driver found (" + e.getMessage() + ")";
        } catch (UnsatisfiedLinkError | IllegalCallerException e) {
            return "no CUDA driver found (" + e + "; run java with --enable-native-access=ALL-UNNAMED)";
        }
        try {
            d.init();
            int count = d.deviceCount();
            if (count == 0) return "the CUDA driver sees no GPU";
        } catch (CudaException e) {
            return "the CUDA driver did not initialise: " + e.getMessage();
        }
        return d;
    }

    void check(String call, int status) {
        if (status != 0) throw new CudaException(call, status, errorName(status), errorString(status));
    }

    private String errorName(int status) {
        return errorText(cuGetErrorName, status, "CUDA_ERROR_" + status);
    }

    private String errorString(int status) {
        return errorText(cuGetErrorString, status, null);
    }

    private static String errorText(MethodHandle h, int status, String fallback) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            if ((int) h.invokeExact(status, p) != 0) return fallback;
            MemorySegment s = p.get(ADDRESS, 0);
            return s.equals(MemorySegment.NULL) ? fallback : s.reinterpret(1024).getString(0);
        } catch (Throwable t) {
            return fallback;
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    void init() {
        try {
            check("cuInit", (int) cuInit.invokeExact(0));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            check("cuDeviceGetCount", (int) cuDeviceGetCount.invokeExact(n));
            return n.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int device(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment d = a.allocate(JAVA_INT);
            check("cuDeviceGet", (int) cuDeviceGet.invokeExact(d, ordinal));
            return d.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public String deviceName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(256);
            check("cuDeviceGetName", (int) cuDeviceGetName.invokeExact(s, 256, device));
            return s.getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A CUdevice_attribute value, e.g. 75/76 compute capability major/minor, 16 multiprocessors. */
    public int deviceAttribute(int attribute, int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cuDeviceGetAttribute", (int) cuDeviceGetAttribute.invokeExact(v, attribute, device));
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long deviceTotalMemory(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check("cuDeviceTotalMem_v2", (int) cuDeviceTotalMem.invokeExact(v, device));
            return v.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public MemorySegment primaryContextRetain(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cuDevicePrimaryCtxRetain", (int) cuDevicePrimaryCtxRetain.invokeExact(p, device));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void primaryContextRelease(int device) {
        try {
            check("cuDevicePrimaryCtxRelease_v2", (int) cuDevicePrimaryCtxRelease.invokeExact(device));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void contextSetCurrent(MemorySegment context) {
        try {
            check("cuCtxSetCurrent", (int) cuCtxSetCurrent.invokeExact(context));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void contextSynchronize() {
        try {
            check("cuCtxSynchronize", (int) cuCtxSynchronize.invokeExact());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long memAlloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            check("cuMemAlloc_v2(" + bytes + " bytes)", (int) cuMemAlloc.invokeExact(p, bytes));
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memFree(long pointer) {
        try {
            check("cuMemFree_v2", (int) cuMemFree.invokeExact(pointer));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memcpyHtoD(long dst, MemorySegment src, long bytes) {
        try {
            check("cuMemcpyHtoD_v2", (int) cuMemcpyHtoD.invokeExact(dst, src, bytes));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memcpyDtoH(MemorySegment dst, long src, long bytes) {
        try {
            check("cuMemcpyDtoH_v2", (int) cuMemcpyDtoH.invokeExact(dst, src, bytes));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memcpyDtoD(long dst, long src, long bytes) {
        try {
            check("cuMemcpyDtoD_v2", (int) cuMemcpyDtoD.invokeExact(dst, src, bytes));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memcpyHtoDAsync(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyHtoDAsync_v2", (int) cuMemcpyHtoDAsync.invokeExact(dst, src, bytes, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memcpyDtoHAsync(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyDtoHAsync_v2", (int) cuMemcpyDtoHAsync.invokeExact(dst, src, bytes, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memcpyDtoDAsync(long dst, long src, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyDtoDAsync_v2", (int) cuMemcpyDtoDAsync.invokeExact(dst, src, bytes, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memsetD32(long dst, int value, long count) {
        try {
            check("cuMemsetD32_v2", (int) cuMemsetD32.invokeExact(dst, value, count));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memsetD32Async(long dst, int value, long count, MemorySegment stream) {
        try {
            check("cuMemsetD32Async", (int) cuMemsetD32Async.invokeExact(dst, value, count, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {free, total} bytes of the current context's device. */
    /** Page-locked host memory of {@code bytes} (copies from the device into it run at full link speed). */
    public MemorySegment memAllocHost(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cuMemAllocHost_v2", (int) cuMemAllocHost.invokeExact(p, bytes));
            return p.get(ADDRESS, 0).reinterpret(bytes);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memFreeHost(MemorySegment p) {
        try {
            check("cuMemFreeHost", (int) cuMemFreeHost.invokeExact(p));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long[] memGetInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment free = a.allocate(JAVA_LONG), total = a.allocate(JAVA_LONG);
            check("cuMemGetInfo_v2", (int) cuMemGetInfo.invokeExact(free, total));
            return new long[]{free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Loads a module from a NUL-terminated PTX image. */
    public MemorySegment moduleLoadData(MemorySegment image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cuModuleLoadData", (int) cuModuleLoadData.invokeExact(p, image));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public MemorySegment moduleGetFunction(MemorySegment module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cuModuleGetFunction(" + name + ")", (int) cuModuleGetFunction.invokeExact(p, module, a.allocateFrom(name)));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void moduleUnload(MemorySegment module) {
        try {
            check("cuModuleUnload", (int) cuModuleUnload.invokeExact(module));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** cuFuncSetAttribute, e.g. 8 = CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES. */
    public void functionSetAttribute(MemorySegment function, int attribute, int value) {
        try {
            check("cuFuncSetAttribute", (int) cuFuncSetAttribute.invokeExact(function, attribute, value));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void launchKernel(MemorySegment function, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes,
                             MemorySegment stream, MemorySegment params) {
        try {
            int s = (int) cuLaunchKernel.invokeExact(function, gx, gy, gz, bx, by, bz, sharedBytes, stream, params,
                    MemorySegment.NULL);
            if (s != 0) check("cuLaunchKernel", s);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Bytes of a CUlaunchConfig and of one CUlaunchAttribute (cuda.h, 64-bit). */
    static final long LAUNCH_CONFIG_BYTES = 56, LAUNCH_ATTRIBUTE_BYTES = 72;
    private static final int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

    /** Whether the driver has cuLaunchKernelEx (CUDA 12 and newer), which programmatic dependent launch needs. */
    public boolean canLaunchProgrammatic() {
        return cuLaunchKernelEx != null;
    }

    /**
     * cuLaunchKernelEx with programmatic stream serialization allowed (Hopper's programmatic dependent launch): the
     * kernel may start before the previous kernel in the stream has finished, once every block of that kernel has
     * signalled (griddepcontrol.launch_dependents); it must wait (griddepcontrol.wait) before it touches anything the
     * previous kernels write. {@code config} and {@code attribute} are scratch of {@link #LAUNCH_CONFIG_BYTES} and
     * {@link #LAUNCH_ATTRIBUTE_BYTES}.
     */
    public void launchKernelProgrammatic(MemorySegment function, int gx, int gy, int gz, int bx, int by, int bz,
                                         int sharedBytes, MemorySegment stream, MemorySegment params,
                                         MemorySegment config, MemorySegment attribute) {
        attribute.fill((byte) 0);
        attribute.set(JAVA_INT, 0, CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        attribute.set(JAVA_INT, 8, 1);   // value.programmaticStreamSerializationAllowed
        config.fill((byte) 0);
        config.set(JAVA_INT, 0, gx);
        config.set(JAVA_INT, 4, gy);
        config.set(JAVA_INT, 8, gz);
        config.set(JAVA_INT, 12, bx);
        config.set(JAVA_INT, 16, by);
        config.set(JAVA_INT, 20, bz);
        config.set(JAVA_INT, 24, sharedBytes);
        config.set(ADDRESS, 32, stream);
        config.set(ADDRESS, 40, attribute);
        config.set(JAVA_INT, 48, 1);
        try {
            int s = (int) cuLaunchKernelEx.invokeExact(config, function, params, MemorySegment.NULL);
            if (s != 0) check("cuLaunchKernelEx", s);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A stream; flags 1 = CU_STREAM_NON_BLOCKING (no implicit sync with the legacy default stream). */
    public MemorySegment streamCreate(int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cuStreamCreate", (int) cuStreamCreate.invokeExact(p, flags));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void streamSynchronize(MemorySegment stream) {
        try {
            check("cuStreamSynchronize", (int) cuStreamSynchronize.invokeExact(stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void streamDestroy(MemorySegment stream) {
        try {
            check("cuStreamDestroy_v2", (int) cuStreamDestroy.invokeExact(stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public MemorySegment eventCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cuEventCreate", (int) cuEventCreate.invokeExact(p, 0));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void eventRecord(MemorySegment event, MemorySegment stream) {
        try {
            check("cuEventRecord", (int) cuEventRecord.invokeExact(event, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void eventSynchronize(MemorySegment event) {
        try {
            check("cuEventSynchronize", (int) cuEventSynchronize.invokeExact(event));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Milliseconds between two recorded events. */
    public float eventElapsedTime(MemorySegment start, MemorySegment end) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ms = a.allocate(JAVA_FLOAT);
            check("cuEventElapsedTime", (int) cuEventElapsedTime.invokeExact(ms, start, end));
            return ms.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void eventDestroy(MemorySegment event) {
        try {
            check("cuEventDestroy_v2", (int) cuEventDestroy.invokeExact(event));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Starts capturing the stream's work into a graph (mode 2 = CU_STREAM_CAPTURE_MODE_RELAXED). */
    public void streamBeginCapture(MemorySegment stream) {
        try {
            check("cuStreamBeginCapture_v2", (int) cuStreamBeginCapture.invokeExact(stream, 2));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public MemorySegment streamEndCapture(MemorySegment stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cuStreamEndCapture", (int) cuStreamEndCapture.invokeExact(stream, p));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public MemorySegment graphInstantiate(MemorySegment graph) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cuGraphInstantiateWithFlags", (int) cuGraphInstantiate.invokeExact(p, graph, 0L));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void graphLaunch(MemorySegment graphExec, MemorySegment stream) {
        try {
            check("cuGraphLaunch", (int) cuGraphLaunch.invokeExact(graphExec, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void graphExecDestroy(MemorySegment graphExec) {
        try {
            check("cuGraphExecDestroy", (int) cuGraphExecDestroy.invokeExact(graphExec));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void graphDestroy(MemorySegment graph) {
        try {
            check("cuGraphDestroy", (int) cuGraphDestroy.invokeExact(graph));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }
}
