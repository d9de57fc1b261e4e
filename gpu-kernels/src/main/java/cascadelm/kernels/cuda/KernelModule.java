package cascadelm.kernels.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * A PTX module of our own loaded into a {@link CudaDevice}'s context, launched on the device's stream: the
 * flash-attention and cascade-cache kernels ({@code flash_attention.cu}, {@code cascade_cache.cu}) live in their
 * own modules, found as class-path resources {@code /cascadelm/kernels/cuda/NAME.ptx} or as files NAME.ptx in a
 * directory.
 */
public final class KernelModule implements AutoCloseable {
    private final CudaDevice device;
    private final MemorySegment module;
    private final Map<String, MemorySegment> functions = new HashMap<>();
    private final Map<String, Integer> sharedAllowed = new HashMap<>();

    private KernelModule(CudaDevice device, byte[] ptx) {
        this.device = device;
        device.makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment image = a.allocate(ptx.length + 1L);
            MemorySegment.copy(ptx, 0, image, ValueLayout.JAVA_BYTE, 0, ptx.length);
            this.module = device.driver().moduleLoadData(image);   // its exception names cuModuleLoadData
        }
    }

    /** Loads NAME.ptx from {@code dir} if given and present there, else from the class path. */
    public static KernelModule load(CudaDevice device, String name, Path dir) {
        String file = name + ".ptx";
        try {
            if (dir != null && Files.exists(dir.resolve(file))) {
                return new KernelModule(device, Files.readAllBytes(dir.resolve(file)));
            }
            try (InputStream in = KernelModule.class.getResourceAsStream("/cascadelm/kernels/cuda/" + file)) {
                if (in == null) {
                    throw new CudaUnavailableException("kernel module " + file + " not found" + (dir == null ? "" : " in "
                            + dir) + " nor on the class path: build it with nvcc -ptx (tools/device/prepare_attn.sh)");
                }
                return new KernelModule(device, in.readAllBytes());
            }
        } catch (IOException e) {
            throw new CudaUnavailableException("cannot read kernel module " + file + ": " + e.getMessage());
        }
    }

    public CudaDevice device() {
        return device;
    }

    private MemorySegment function(String name) {
        MemorySegment f = functions.get(name);
        if (f == null) {
            f = device.driver().moduleGetFunction(module, name);
            functions.put(name, f);
        }
        return f;
    }

    /** Launches {@code kernel} on the device's stream; raises the dynamic shared-memory limit first when needed. */
    public void launch(String kernel, int gridX, int gridY, int blockX, int sharedBytes, KernelArgs a) {
        if (gridX <= 0 || gridY <= 0) return;
        device.makeCurrent();
        MemorySegment f = function(kernel);
        if (sharedBytes > 48 * 1024 && sharedAllowed.getOrDefault(kernel, 0) < sharedBytes) {
            device.driver().functionSetAttribute(f, 8, sharedBytes);   // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
            sharedAllowed.put(kernel, sharedBytes);
        }
        device.driver().launchKernel(f, gridX, gridY, 1, blockX, 1, 1, sharedBytes, device.stream(), a.pointers());
    }

    @Override
    public void close() {
        device.makeCurrent();
        device.driver().moduleUnload(module);
    }
}
