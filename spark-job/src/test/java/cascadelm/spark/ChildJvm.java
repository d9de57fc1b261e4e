package cascadelm.spark;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A JVM of its own with the test class path and the flags Spark and the Vector API need on Java 25. */
final class ChildJvm {
    private ChildJvm() {
    }

    static Process start(Path log, String heap, List<String> systemProperties, String mainClass, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), heap));
        cmd.addAll(Arrays.asList(System.getProperty("cascadelm.test.jvmFlags").trim().split("\\s+")));
        cmd.add("-Dlog4j2.configurationFile=" + Path.of("src/test/resources/log4j2-test.properties").toAbsolutePath());
        cmd.addAll(systemProperties);
        cmd.addAll(List.of("-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")), mainClass));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        return pb.start();
    }

    static String classPathSeparator() {
        return File.pathSeparator;
    }
}
