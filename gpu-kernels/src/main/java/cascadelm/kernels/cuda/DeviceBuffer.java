package cascadelm.kernels.cuda;

/**
 * A block of device memory owned by one {@link CudaDevice}; closing it frees the memory (once). The address is
 * what kernels and cuBLAS receive.
 */
public final class DeviceBuffer implements AutoCloseable {
    private final CudaDevice device;
    private final long address;
    private final long bytes;
    private boolean freed;

    DeviceBuffer(CudaDevice device, long address, long bytes) {
        this.device = device;
        this.address = address;
        this.bytes = bytes;
    }

    public long address() {
        if (freed) throw new IllegalStateException("device buffer of " + bytes + " bytes was already freed");
        return address;
    }

    /** The address without the freed check, for the device's own bookkeeping. */
    long raw() {
        return address;
    }

    public long bytes() {
        return bytes;
    }

    /** The address {@code offset} bytes in, bounds-checked. */
    public long at(long offset) {
        if (offset < 0 || offset > bytes) {
            throw new IndexOutOfBoundsException("offset " + offset + " outside a device buffer of " + bytes + " bytes");
        }
        return address() + offset;
    }

    public CudaDevice device() {
        return device;
    }

    @Override
    public void close() {
        if (freed) return;
        freed = true;
        device.free(this);
    }
}
