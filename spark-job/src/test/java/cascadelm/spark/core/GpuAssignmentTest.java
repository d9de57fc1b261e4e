package cascadelm.spark.core;

import cascadelm.kernels.cuda.CudaDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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

    /** conf/gpu-discovery.sh prints the JSON Spark's resource discovery reads: this node's GPU ordinals. */
    @Test
    void theDiscoveryScriptReportsTheGpusNvidiaSmiListsAndNoneWithoutIt(@TempDir Path dir) throws Exception {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        // Only the tools the script needs, so that a real nvidia-smi elsewhere on PATH cannot answer.
        for (String tool : List.of("bash", "env", "tr", "sed", "paste")) {
            Path real = Path.of("/usr/bin", tool);
            Files.createSymbolicLink(bin.resolve(tool), Files.exists(real) ? real : Path.of("/bin", tool));
        }
        assertEquals("{\"name\": \"gpu\", \"addresses\": []}", discover(bin));
        Path smi = Files.writeString(bin.resolve("nvidia-smi"), "#!/usr/bin/env bash\n"
                + "[[ \"$*\" == '--query-gpu=index --format=csv,noheader' ]] || exit 9\nprintf '0\\n 1\\n'\n");
        assertTrue(smi.toFile().setExecutable(true));
        assertEquals("{\"name\": \"gpu\", \"addresses\": [\"0\",\"1\"]}", discover(bin));
    }

    private static String discover(Path path) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("/bin/bash", Path.of("../conf/gpu-discovery.sh").toString()).redirectErrorStream(true);
        pb.environment().put("PATH", path.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, p.waitFor(), out);
        return out;
    }
}
