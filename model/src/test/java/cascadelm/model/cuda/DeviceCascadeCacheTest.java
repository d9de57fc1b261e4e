package cascadelm.model.cuda;

import cascadelm.kernels.cuda.CudaDevice;
import cascadelm.kernels.cuda.FlashAttention;
import cascadelm.kernels.cuda.GpuTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The device cascading cache keeps exactly the tokens the Java CascadingCache keeps, fed the same score sums
 * (computed by the device kernels from random inputs): held positions per cascade, sinks and KV head after every
 * stride. Skipped where no CUDA driver and GPU are present.
 */
@GpuTest
class DeviceCascadeCacheTest {
    static CudaDevice device;
    static FlashAttention attention;

    @BeforeAll
    static void open(CudaDevice gpu) {
        device = gpu;
        attention = new FlashAttention(device, null);
    }

    @AfterAll
    static void close() {
        if (attention != null) attention.close();
    }

    static List<DeviceCacheCrossCheck.Config> configs() {
        return List.of(
                new DeviceCacheCrossCheck.Config(4, 32, 4, true, true, 0.9, 300, 7),
                new DeviceCacheCrossCheck.Config(4, 32, 4, true, false, 0.9, 300, 7),
                new DeviceCacheCrossCheck.Config(2, 12, 3, false, true, 0.9999999, 200, 5),
                new DeviceCacheCrossCheck.Config(0, 32, 2, true, true, 0.99, 260, 40),
                new DeviceCacheCrossCheck.Config(3, 20, 5, true, true, 0.95, 150, 6));
    }

    @ParameterizedTest
    @MethodSource("configs")
    void holdsTheSameTokensAsTheJavaCache(DeviceCacheCrossCheck.Config config) {
        DeviceCacheCrossCheck.Result r = DeviceCacheCrossCheck.run(attention, null, config, 11);
        assertNull(r.firstDifference(), config + ": " + r.firstDifference());
        assertEquals((config.tokens() + config.stride() - 1) / config.stride() * 2, r.comparisons(), "every stride and head compared");
    }
}
