package cascadelm.kernels.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * One GPU as the backend uses it: the device's primary context, one non-blocking stream that all work goes
 * to in order, the kernel module (PTX built from {@code src/main/cuda} at build time, loaded from the class
 * path) and a cuBLAS handle on that stream. Copies from and to the host go through a staging segment and are
 * stream-ordered; a copy to the host returns once the data is there.
 *
 * <p>Not thread-safe: one caller at a time (the {@code Backend} contract). Every entry point makes the context
 * current on the calling thread first, so Spark task threads may take turns.
 */
public final class CudaDevice implements AutoCloseable {
    /** The kernels' PTX, for compute capability 8.0 and up (A100, H100: the driver JIT-compiles it once). */
    public static final String PTX_RESOURCE = "/cascadelm/kernels/cuda/kernels.ptx";
    /**
     * The same kernels built for compute capability 9.0, loaded on Hopper when present: it has the
     * programmatic-dependent-launch instructions (griddepcontrol) that {@link #overlapLaunches} relies on.
     */
    public static final String PTX_SM90_RESOURCE = "/cascadelm/kernels/cuda/kernels_sm90.ptx";
    /**
     * Whether decoding uses version 10 of the decode kernels (device argmax, one-kernel decode attention, Q8_0
     * products on int8 activations, overlapping launches on Hopper): {@code -Dcascadelm.cuda.decode=v10}. Off by
     * default until that version has passed the GPU tests on a GPU (it was built and checked on the CPU only:
     * bench/results/gpu-decode-20261207.md); version 9, the default, is the one measured and tested on the H200.
     */
    public static final boolean DECODE_V10 = "v10".equals(System.getProperty("cascadelm.cuda.decode", "v9"));
    private static final int ATTR_CC_MAJOR = 75, ATTR_CC_MINOR = 76, ATTR_SM_COUNT = 16;

    private final CudaDriver driver;
    private final int ordinal, device;
    private final String deviceName;
    private final MemorySegment context, stream, module;
    private final Cublas cublas;
    private final Arena arena = Arena.ofShared();
    private final KernelArgs args = new KernelArgs(arena);
    private final Map<String, MemorySegment> functions = new HashMap<>();
    private final Map<DeviceBuffer, Boolean> live = new IdentityHashMap<>();
    private final int multiprocessors, computeCapability;
    private MemorySegment staging = MemorySegment.NULL;
    /**
     * Page-locked memory that downloads land in (a copy to pageable memory goes through the driver's own bounce
     * buffer at a fraction of the link's speed: the logits of every decoded token come this way). Uploads keep the
     * pageable staging: from pinned memory they would run after the call returns, racing the next upload.
     */
    private MemorySegment pinned = MemorySegment.NULL;
    private final MemorySegment launchConfig = arena.allocate(CudaDriver.LAUNCH_CONFIG_BYTES, 8),
            launchAttribute = arena.allocate(CudaDriver.LAUNCH_ATTRIBUTE_BYTES, 8);
    private final boolean programmaticLaunch;
    private boolean overlap;
    private boolean closed;

    private CudaDevice(int ordinal) {
        this.driver = CudaDriver.get();
        int count = driver.deviceCount();
        if (ordinal < 0 || ordinal >= count) {
            throw new CudaUnavailableException("CUDA device " + ordinal + " does not exist: the driver sees " + count
                    + " GPU(s), ordinals 0.." + (count - 1));
        }
        this.ordinal = ordinal;
        this.device = driver.device(ordinal);
        int major = driver.deviceAttribute(ATTR_CC_MAJOR, device), minor = driver.deviceAttribute(ATTR_CC_MINOR, device);
        if (major < 8) {
            throw new CudaUnavailableException("CUDA device " + ordinal + " has compute capability " + major + "." + minor
                    + "; the kernels need 8.0 or newer (bfloat16)");
        }
        this.programmaticLaunch = DECODE_V10 && major >= 9 && CudaDevice.class.getResource(PTX_SM90_RESOURCE) != null
                && driver.canLaunchProgrammatic();
        byte[] ptx = ptx(programmaticLaunch ? PTX_SM90_RESOURCE : PTX_RESOURCE);
        this.deviceName = driver.deviceName(device);
        this.multiprocessors = driver.deviceAttribute(ATTR_SM_COUNT, device);
        this.computeCapability = 10 * major + minor;
        this.context = driver.primaryContextRetain(device);
        try {
            driver.contextSetCurrent(context);
            this.stream = driver.streamCreate(1);
            MemorySegment image = arena.allocate(ptx.length + 1L);
            MemorySegment.copy(ptx, 0, image, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, ptx.length);
            this.module = driver.moduleLoadData(image);
            this.cublas = Cublas.create(stream);
        } catch (RuntimeException e) {
            driver.primaryContextRelease(device);
            arena.close();
            throw e;
        }
    }

    /** Opens GPU {@code ordinal}; throws {@link CudaUnavailableException} with the reason when it cannot be used. */
    public static CudaDevice open(int ordinal) {
        return new CudaDevice(ordinal);
    }

    /** Null when GPU {@code ordinal} can be used, else why not (for "auto" fallbacks and test assumptions). */
    public static String unavailableReason(int ordinal) {
        try {
            if (CudaDevice.class.getResource(PTX_RESOURCE) == null) return builtWithoutKernels();
            CudaDriver d = CudaDriver.get();
            int count = d.deviceCount();
            if (ordinal < 0 || ordinal >= count) return "CUDA device " + ordinal + " does not exist (" + count + " GPU(s))";
            return null;
        } catch (CudaUnavailableException | CudaException e) {
            return e.getMessage();
        }
    }

    private static String builtWithoutKernels() {
        return "built without CUDA kernels (nvcc was not found when gpu-kernels was built; install the CUDA toolkit"
                + " and rebuild)";
    }

    private static byte[] ptx(String resource) {
        try (InputStream in = CudaDevice.class.getResourceAsStream(resource)) {
            if (in == null) throw new CudaUnavailableException(builtWithoutKernels());
            return in.readAllBytes();
        } catch (IOException e) {
            throw new CudaUnavailableException("cannot read the CUDA kernels " + resource + ": " + e.getMessage());
        }
    }

    /** e.g. "cuda:0 (NVIDIA H100 80GB HBM3)". */
    public String name() {
        return "cuda:" + ordinal + " (" + deviceName + ")";
    }

    public int ordinal() {
        return ordinal;
    }

    public int multiprocessors() {
        return multiprocessors;
    }

    /** Compute capability as 10 * major + minor: 80 for the A100, 90 for the H100 and H200. */
    public int computeCapability() {
        return computeCapability;
    }

    public CudaDriver driver() {
        return driver;
    }

    public MemorySegment stream() {
        return stream;
    }

    public Cublas cublas() {
        return cublas;
    }

    /** The device whose context this thread made current last (a launch then skips the driver call). */
    private static final ThreadLocal<CudaDevice> CURRENT = new ThreadLocal<>();

    /** Makes this device's context current on the calling thread. */
    public void makeCurrent() {
        if (closed) throw new IllegalStateException(name() + " is closed");
        if (CURRENT.get() == this) return;
        driver.contextSetCurrent(context);
        CURRENT.set(this);
    }

    /** {free, total} bytes of device memory. */
    public long[] memoryInfo() {
        makeCurrent();
        return driver.memGetInfo();
    }

    public DeviceBuffer alloc(long bytes) {
        makeCurrent();
        long p = driver.memAlloc(Math.max(bytes, 4));
        DeviceBuffer b = new DeviceBuffer(this, p, bytes);
        synchronized (live) {
            live.put(b, Boolean.TRUE);
        }
        return b;
    }

    public DeviceBuffer allocFloats(long count) {
        return alloc(count * Float.BYTES);
    }

    void free(DeviceBuffer b) {
        synchronized (live) {
            if (live.remove(b) == null) return;
        }
        if (closed) return;
        makeCurrent();
        // Work queued on the stream may still read the buffer.
        driver.streamSynchronize(stream);
        driver.memFree(b.raw());
    }

    private MemorySegment staging(long bytes) {
        if (staging.byteSize() < bytes) {
            staging = arena.allocate(Math.max(bytes, Math.min(2 * staging.byteSize(), 1L << 30)), 64);
        }
        return staging;
    }

    public void upload(float[] src, int from, int count, long dst) {
        if (count == 0) return;
        MemorySegment s = staging(4L * count);
        MemorySegment.copy(src, from, s, JAVA_FLOAT, 0, count);
        upload(s, 4L * count, dst);
    }

    public void upload(int[] src, int from, int count, long dst) {
        if (count == 0) return;
        MemorySegment s = staging(4L * count);
        MemorySegment.copy(src, from, s, JAVA_INT, 0, count);
        upload(s, 4L * count, dst);
    }

    /**
     * Stream-ordered copy from host memory; the source may be reused as soon as this returns (pageable memory is
     * staged by the driver before the call returns).
     */
    public void upload(MemorySegment src, long bytes, long dst) {
        makeCurrent();
        if (!src.isNative()) {   // a heap segment cannot be handed to native code: stage it
            MemorySegment s = staging(bytes);
            MemorySegment.copy(src, 0, s, 0, bytes);
            src = s;
        }
        driver.memcpyHtoDAsync(dst, src, bytes, stream);
    }

    public DeviceBuffer uploadNew(float[] src) {
        DeviceBuffer b = allocFloats(src.length);
        upload(src, 0, src.length, b.address());
        return b;
    }

    public DeviceBuffer uploadNew(int[] src) {
        DeviceBuffer b = alloc(4L * src.length);
        upload(src, 0, src.length, b.address());
        return b;
    }

    private MemorySegment pinned(long bytes) {
        if (pinned.byteSize() < bytes) {
            if (!pinned.equals(MemorySegment.NULL)) driver.memFreeHost(pinned);
            pinned = MemorySegment.NULL;
            pinned = driver.memAllocHost(Math.max(bytes, 1L << 20));
        }
        return pinned;
    }

    /** Stream-ordered copy to the host; returns once the values are in {@code dst}. */
    public void download(long src, float[] dst, int to, int count) {
        if (count == 0) return;
        makeCurrent();
        MemorySegment s = pinned(4L * count);
        driver.memcpyDtoHAsync(s, src, 4L * count, stream);
        driver.streamSynchronize(stream);
        MemorySegment.copy(s, JAVA_FLOAT, 0, dst, to, count);
    }

    /** As {@link #download(long, float[], int, int)}, for ints. */
    public void download(long src, int[] dst, int to, int count) {
        if (count == 0) return;
        makeCurrent();
        MemorySegment s = pinned(4L * count);
        driver.memcpyDtoHAsync(s, src, 4L * count, stream);
        driver.streamSynchronize(stream);
        MemorySegment.copy(s, JAVA_INT, 0, dst, to, count);
    }

    public void copy(long dst, long src, long bytes) {
        if (bytes == 0) return;
        makeCurrent();
        driver.memcpyDtoDAsync(dst, src, bytes, stream);
    }

    /** Fills {@code count} 32-bit words with {@code bits} (e.g. a NaN pattern to poison outputs in tests). */
    public void fill32(long dst, int bits, long count) {
        if (count == 0) return;
        makeCurrent();
        driver.memsetD32Async(dst, bits, count, stream);
    }

    /** The argument block for the next {@link #launch}; valid until then. */
    public KernelArgs args() {
        return args.reset();
    }

    public void launch(String kernel, int gridX, int gridY, int blockX, int sharedBytes, KernelArgs a) {
        launch3(kernel, gridX, gridY, 1, blockX, sharedBytes, a);
    }

    /** As {@link #launch}, with a third grid dimension. */
    public void launch3(String kernel, int gridX, int gridY, int gridZ, int blockX, int sharedBytes, KernelArgs a) {
        if (gridX <= 0 || gridY <= 0 || gridZ <= 0) return;   // nothing to do
        makeCurrent();
        driver.launchKernel(function(kernel), gridX, gridY, gridZ, blockX, 1, 1, sharedBytes, stream, a.pointers());
    }

    /**
     * As {@link #launch}, for a kernel that waits for its stream predecessors itself (griddepcontrol.wait before it
     * reads or writes anything they touch; decode.cu's pdl_wait): while {@link #overlapLaunches} is on, it is
     * launched so that it may start while the previous kernel finishes (programmatic dependent launch), else as usual.
     */
    public void launchOverlapping(String kernel, int gridX, int gridY, int blockX, int sharedBytes, KernelArgs a) {
        if (gridX <= 0 || gridY <= 0) return;
        makeCurrent();
        if (!overlap) {
            driver.launchKernel(function(kernel), gridX, gridY, 1, blockX, 1, 1, sharedBytes, stream, a.pointers());
            return;
        }
        driver.launchKernelProgrammatic(function(kernel), gridX, gridY, 1, blockX, 1, 1, sharedBytes, stream,
                a.pointers(), launchConfig, launchAttribute);
    }

    /** Whether this device can overlap dependent launches (compute capability 9.0 and the sm_90 kernels loaded). */
    public boolean canOverlapLaunches() {
        return programmaticLaunch;
    }

    /**
     * Turns programmatic dependent launch on or off for {@link #launchOverlapping} (off by default, and always off
     * where {@link #canOverlapLaunches} is false). The decode graph is captured with it on: its kernels then start
     * while their predecessor drains, prefetching weights into L2 until the predecessor's results are complete.
     */
    public void overlapLaunches(boolean on) {
        this.overlap = on && programmaticLaunch;
    }

    private MemorySegment function(String name) {
        MemorySegment f = functions.get(name);
        if (f == null) {
            f = driver.moduleGetFunction(module, name);
            functions.put(name, f);
        }
        return f;
    }

    /** Allows a kernel more than 48 KiB of dynamic shared memory. */
    public void allowSharedMemory(String kernel, int bytes) {
        makeCurrent();
        driver.functionSetAttribute(function(kernel), 8, bytes);
    }

    /** Waits for all work queued so far. */
    public void synchronize() {
        makeCurrent();
        driver.streamSynchronize(stream);
    }

    /** Milliseconds of device time that {@code work} queues, between two events on the stream. */
    public float time(Runnable work) {
        makeCurrent();
        MemorySegment a = driver.eventCreate(), b = driver.eventCreate();
        try {
            driver.eventRecord(a, stream);
            work.run();
            driver.eventRecord(b, stream);
            driver.eventSynchronize(b);
            return driver.eventElapsedTime(a, b);
        } finally {
            driver.eventDestroy(a);
            driver.eventDestroy(b);
        }
    }

    @Override
    public void close() {
        if (closed) return;
        makeCurrent();
        try {
            driver.streamSynchronize(stream);
            synchronized (live) {
                for (DeviceBuffer b : live.keySet()) driver.memFree(b.raw());
                live.clear();
            }
            cublas.close();
            if (!pinned.equals(MemorySegment.NULL)) driver.memFreeHost(pinned);
            driver.moduleUnload(module);
            driver.streamDestroy(stream);
        } finally {
            closed = true;
            CURRENT.remove();
            driver.primaryContextRelease(device);
            arena.close();
        }
    }
}
