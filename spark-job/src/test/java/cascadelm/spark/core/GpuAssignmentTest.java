package cascadelm.spark.core;

import cascadelm.kernels.cuda.CudaDevice;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Which GPU an executor opens, and the backend settings' checks, without a GPU or a Spark task. */
class GpuAssignmentTest {
    @Test
    void withoutASparkTaskTheDeviceSettingDecides() {
        assertEquals(0, GpuAssignment.ordinal(JobSettings.of(Map.of())));
        assertEquals(3, GpuAssignment.ordinal(JobSettings.of(Map.of("device", "3"))));
    }

    @Test
    void sparkGpuAddressesAreOrdinals() {
        assertEquals(2, GpuAssignment.parse(" 2 "));
        ExecutorModel.ModelUnavailableException e = assertThrows(ExecutorModel.ModelUnavailableException.class,
                () -> GpuAssignment.parse("GPU-5f2e"));
        assertTrue(e.getMessage().contains("'GPU-5f2e'") && e.getMessage().contains("discovery script"), e.getMessage());
    }

    @Test
    void aNegativeDeviceIsRejectedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JobSettings.of(Map.of("device", "-1")));
        assertTrue(e.getMessage().contains("device"), e.getMessage());
    }

    @Test
    void askingForCudaWithoutOneFailsBeforeAnyWork() {
        String reason = CudaDevice.unavailableReason(0);
        assumeTrue(reason != null, "a GPU is usable here");
        Path model = Path.of("../sample-data/models/tiny-random-llama3.Q8_0.gguf");
        ExecutorModel.ModelUnavailableException e = assertThrows(ExecutorModel.ModelUnavailableException.class,
                () -> ExecutorModel.check(model, JobSettings.of(Map.of("backend", "cuda"))));
        assertTrue(e.getMessage().startsWith("backend cuda: ") && e.getMessage().contains(reason), e.getMessage());
    }
}
