package cascadelm.spark;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The application jar spark-submit gets (target/cascade-lm-spark-app.jar): the job, the engine and the two
 * libraries clusters do not have, and nothing a cluster provides (a second copy of Spark, Scala, Arrow,
 * Parquet, Hadoop or Jackson would clash with the cluster's). Runs after package (pom: execution app-jar);
 * SparkClusterTest runs the job's code itself under SparkSubmit.
 */
class AppJarCheck {
    @Test
    void theApplicationJarHoldsTheJobAndEngineAndNothingTheClusterProvides() throws IOException {
        Path jar = Path.of("target/cascade-lm-spark-app.jar");
        assertTrue(Files.isRegularFile(jar), jar + " is built by package");
        try (JarFile j = new JarFile(jar.toFile())) {
            for (String needed : List.of("cascadelm/spark/CascadeJob.class", "cascadelm/spark/ml/CascadeSummarizer.class",
                    "cascadelm/model/llama/LlamaModel.class", "cascadelm/kernels/cpu/CpuBackend.class",
                    "picocli/CommandLine.class", "me/tongfei/progressbar/ProgressBar.class")) {
                assertTrue(j.getEntry(needed) != null, "the app jar lacks " + needed);
            }
            List<String> clashing = j.stream().map(e -> e.getName())
                    .filter(n -> n.endsWith(".class"))
                    .filter(n -> n.startsWith("org/apache/spark/") || n.startsWith("scala/") || n.startsWith("org/apache/arrow/")
                            || n.startsWith("org/apache/parquet/") || n.startsWith("org/apache/hadoop/")
                            || n.startsWith("com/fasterxml/jackson/"))
                    .limit(5).toList();
            assertEquals(List.of(), clashing, "classes the cluster provides");
            assertEquals("cascadelm.spark.CascadeJob", j.getManifest().getMainAttributes().getValue("Main-Class"));
        }
    }
}
