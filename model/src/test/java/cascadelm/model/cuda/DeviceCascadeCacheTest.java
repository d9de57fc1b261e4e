package cascadelm.model.cuda;

import cascadelm.kernels.cuda.CudaDevice;
import cascadelm.kernels.cuda.FlashAttention;
import cascadelm.kernels.cuda.GpuTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The device cascading cache keeps exactly the tokens the Java CascadingCache keeps, fed the same score sums
 * (computed by the device kernels from random inputs): held positions per cascade, sinks and KV head after every
 * stride, with head dimension 64 (portable attention kernel) and 128 (the Hopper kernel where the device has it),
 * exact or sampled score sums. Leaving out the settled entries' sums keeps exactly the tokens of the exact run.
 * Skipped where no CUDA driver and GPU are present.
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

    @ParameterizedTest
    @MethodSource("configs")
    void holdsTheSameTokensAsTheJavaCacheWithHeadDim128AndSampledSums(DeviceCacheCrossCheck.Config config) {
        DeviceCacheCrossCheck.Result r = DeviceCacheCrossCheck.run(attention, null, config, 12, 128, 2, true);
        assertNull(r.firstDifference(), config + ": " + r.firstDifference());
    }

    /** Configurations that fill the cache (so the settled entries exist) and select by score. */
    static List<DeviceCacheCrossCheck.Config> fillingConfigs() {
        return List.of(
                new DeviceCacheCrossCheck.Config(4, 32, 4, true, true, 0.9, 600, 7),
                new DeviceCacheCrossCheck.Config(2, 12, 3, false, true, 0.9999999, 300, 5),
                new DeviceCacheCrossCheck.Config(0, 32, 2, true, true, 0.99, 400, 40),
                new DeviceCacheCrossCheck.Config(3, 20, 5, true, true, 0.95, 400, 6));
    }

    @ParameterizedTest
    @MethodSource("fillingConfigs")
    void skippingSettledSumsKeepsTheSameTokens(DeviceCacheCrossCheck.Config config) {
        for (int hd : new int[]{64, 128}) {
            List<Integer> differing = new ArrayList<>();
            DeviceCacheCrossCheck.Result r = DeviceCacheCrossCheck.compareScoreModes(attention, null, config, 13, hd, 1, true,
                    differing);
            assertNull(r.firstDifference(), config + ", head dim " + hd + ": " + r.firstDifference());
            assertTrue(config.tokens() > 2 * (config.sinks() + config.size()), "the cache was full for many strides");
            assertEquals(r.strides(), differing.size());
        }
    }
}
