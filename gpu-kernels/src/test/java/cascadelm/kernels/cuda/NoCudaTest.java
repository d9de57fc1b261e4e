package cascadelm.kernels.cuda;

import cascadelm.kernels.Backend;
import cascadelm.kernels.Backends;
import cascadelm.kernels.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What happens without CUDA (the CI machines): clear reasons, a CPU fallback said once, no crash. */
class NoCudaTest {

    @Test
    void aMissingLibraryNamesEveryCandidate() {
        NativeLibrary.LibraryNotFoundException e = assertThrows(NativeLibrary.LibraryNotFoundException.class,
                () -> NativeLibrary.open(List.of("libcascade-no-such-lib.so.7", "/nonexistent/libx.so")));
        assertTrue(e.getMessage().contains("libcascade-no-such-lib.so.7"), e.getMessage());
        assertTrue(e.getMessage().contains("/nonexistent/libx.so"), e.getMessage());
    }

    @Test
    void cublasCandidatesPutTheConfiguredPathFirst() {
        String before = System.getProperty("cascade.cuda.cublas");
        try {
            System.setProperty("cascade.cuda.cublas", "/opt/x/libcublas.so.99");
            List<String> c = Cublas.candidates();
            assertEquals("/opt/x/libcublas.so.99", c.getFirst());
            assertTrue(c.indexOf("libcublas.so.13") < c.indexOf("libcublas.so.12"));
            assertTrue(c.contains("/usr/local/cuda/lib64/libcublas.so.13"));
        } finally {
            if (before == null) System.clearProperty("cascade.cuda.cublas");
            else System.setProperty("cascade.cuda.cublas", before);
        }
    }

    @Test
    void autoFallsBackToTheCpuAndSaysWhyOnce() {
        String reason = CudaDevice.unavailableReason(0);
        assumeTrue(reason != null, "a GPU is usable here");
        List<String> log = new ArrayList<>();
        try (Backend b = Backends.open("auto", 0, 1, log::add)) {
            assertInstanceOf(CpuBackend.class, b);
        }
        assertEquals(1, log.size());
        assertEquals("backend auto: using the CPU (" + reason + ")", log.getFirst());
        assertTrue(reason.startsWith("no CUDA driver found") || reason.startsWith("built without CUDA kernels")
                || reason.contains("GPU") || reason.startsWith("CUDA device"), reason);
    }

    @Test
    void cudaFailsFastWithTheReason() {
        String reason = CudaDevice.unavailableReason(0);
        assumeTrue(reason != null, "a GPU is usable here");
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> Backends.open("cuda", 0, 1, s -> { }));
        assertTrue(e.getMessage().startsWith("backend cuda: "), e.getMessage());
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }

    @Test
    void aMissingDeviceOrdinalIsReported() {
        assertTrue(CudaDevice.unavailableReason(1000) != null);
    }

    @Test
    void badSettingsAreRejectedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.open("gpu", 0, 1, s -> { }));
        assertTrue(e.getMessage().contains("'gpu'") && e.getMessage().contains("auto, cpu, cuda"), e.getMessage());
        IllegalArgumentException d = assertThrows(IllegalArgumentException.class, () -> Backends.open("cpu", -1, 1, s -> { }));
        assertTrue(d.getMessage().contains("-1"), d.getMessage());
        try (Backend b = Backends.open(" CPU ", 0, 1, s -> { })) {
            assertEquals("cpu", b.name());
        }
    }
}
