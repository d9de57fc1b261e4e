package cascadelm.kernels.cuda;

import java.lang.foreign.MemorySegment;

/**
 * Work captured once from a device's stream and replayed as one launch: the decode step of the CUDA session,
 * whose ~100 kernels would otherwise cost the host one driver call each. The kernels' arguments are fixed at
 * capture; whatever changes from one replay to the next must be read by the kernels from device memory.
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaDevice device;
    private MemorySegment exec;

    private CudaGraph(CudaDevice device, MemorySegment exec) {
        this.device = device;
        this.exec = exec;
    }

    /**
     * Records the launches and copies {@code work} queues on the device's stream (none of it runs now) and makes
     * them a replayable graph. {@code work} must not wait for the device, allocate or free device memory.
     */
    public static CudaGraph capture(CudaDevice device, Runnable work) {
        device.makeCurrent();
        CudaDriver d = device.driver();
        d.streamBeginCapture(device.stream());
        MemorySegment graph;
        try {
            work.run();
        } catch (RuntimeException e) {
            try {
                MemorySegment g = d.streamEndCapture(device.stream());
                if (!g.equals(MemorySegment.NULL)) d.graphDestroy(g);
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        graph = d.streamEndCapture(device.stream());
        try {
            return new CudaGraph(device, d.graphInstantiate(graph));
        } finally {
            d.graphDestroy(graph);   // the executable graph keeps what it needs
        }
    }

    /** Queues one replay on the device's stream. */
    public void launch() {
        if (exec == null) throw new IllegalStateException("the graph was closed");
        device.makeCurrent();
        device.driver().graphLaunch(exec, device.stream());
    }

    @Override
    public void close() {
        if (exec == null) return;
        device.synchronize();   // a replay may still be running
        device.driver().graphExecDestroy(exec);
        exec = null;
    }
}
