package cascadelm.spark;

import cascadelm.spark.core.ResultRow;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A real Spark standalone cluster on loopback: a master and two workers, each its own JVM started from the
 * Spark jars on the test class path, and the job submitted through SparkSubmit (a fourth JVM, the driver)
 * with two one-core executors. Every wait is bounded, and every process is stopped by pid, so a broken
 * cluster fails the test instead of hanging the build.
 */
@Timeout(value = 18, unit = TimeUnit.MINUTES)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SparkClusterTest {
    private static final Duration START_LIMIT = Duration.ofSeconds(180);
    // Generous: on a shared 2-core machine under a load of 18 a job of this size took over 3 minutes.
    private static final Duration JOB_LIMIT = Duration.ofSeconds(420);

    @TempDir
    static Path dir;
    /** Outside the @TempDir: it holds links into ~/.m2, which JUnit's cleanup would warn about one by one. */
    static Path sparkHome;
    static Path appJar;
    static final List<Process> cluster = new ArrayList<>();
    static String masterUrl;
    static int masterUi;

    @BeforeAll
    static void startCluster() throws Exception {
        sparkHome = fakeSparkHome();
        int port = freePort();
        masterUi = freePort();
        masterUrl = "spark://127.0.0.1:" + port;
        cluster.add(start("master", "-Xmx384m", Map.of(), "org.apache.spark.deploy.master.Master",
                "--host", "127.0.0.1", "--port", Integer.toString(port), "--webui-port", Integer.toString(masterUi)));
        for (int i = 1; i <= 2; i++) {
            // Each worker has one "GPU", found by conf/gpu-discovery.sh through an nvidia-smi that names it.
            Path bin = Files.createDirectories(dir.resolve("gpu" + i));
            Path smi = Files.writeString(bin.resolve("nvidia-smi"), "#!/bin/sh\necho " + GPU[i - 1] + "\n");
            assertTrue(smi.toFile().setExecutable(true));
            cluster.add(start("worker" + i, "-Xmx256m", Map.of("PATH", bin + File.pathSeparator + System.getenv("PATH")),
                    "-Dspark.worker.resource.gpu.amount=1", "-Dspark.worker.resource.gpu.discoveryScript=" + DISCOVERY,
                    "org.apache.spark.deploy.worker.Worker",
                    "--host", "127.0.0.1", "--cores", "1", "--memory", "1g", "--webui-port", Integer.toString(freePort()),
                    "--work-dir", dir.resolve("work" + i).toString(), masterUrl));
        }
        awaitAliveWorkers(2);
    }

    /** The discovery script users are told to use; the workers' GPU ordinals, out of any real machine's range. */
    private static final Path DISCOVERY = Path.of("../conf/gpu-discovery.sh").toAbsolutePath().normalize();
    private static final int[] GPU = {11, 13};

    @AfterAll
    static void stopCluster() {
        // Executors first (the workers' children), then workers and master; by pid, never by name.
        for (Process p : cluster.reversed()) {
            p.toHandle().descendants().forEach(ProcessHandle::destroy);
            p.toHandle().destroy();
        }
        for (Process p : cluster) {
            try {
                if (!p.waitFor(20, TimeUnit.SECONDS)) p.toHandle().destroyForcibly();
                p.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            } catch (InterruptedException e) {
                p.toHandle().destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        deleteTree(sparkHome);
    }

    /** Deletes links, not what they point to (Files.walk does not follow links). */
    private static void deleteTree(Path root) {
        if (root == null) return;
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            // Only a temporary folder: leaving it is harmless.
        }
    }

    @Test
    @Order(1)
    void theJobRunsOnTwoExecutorsThroughSparkSubmit() throws Exception {
        TestCorpus corpus = TestCorpus.write(dir.resolve("corpus"));
        Path out = dir.resolve("out");
        // The model as users ship it: spark-submit --files, named by its file name alone. Each executor asks
        // for one GPU and each task for one: Spark hands each task its worker's GPU address.
        List<String> submit = submit(List.of("--files", TestCorpus.MODEL.toString(),
                        "--conf", "spark.executor.resource.gpu.amount=1", "--conf", "spark.task.resource.gpu.amount=1",
                        "--conf", "spark.executor.resource.gpu.discoveryScript=" + DISCOVERY),
                TestCorpus.MODEL.getFileName().toString(),
                "--corpus", corpus.docs.toString(), "--questions", corpus.questions.toString(),
                "--output", out.toString(), "--partitions", "4", "--conf", "answer-max-tokens=4");
        Process driver = start("driver", "-Xmx1g", Map.of(), submit.toArray(String[]::new));
        if (!driver.waitFor(JOB_LIMIT.toSeconds(), TimeUnit.SECONDS)) {
            driver.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            driver.destroyForcibly();
            fail("the job did not finish within " + JOB_LIMIT + "\n" + logs());
        }
        assertEquals(0, driver.exitValue(), logs());

        try (SparkSession spark = SparkSession.builder().master("local[1]").appName("cluster-check")
                .config("spark.ui.enabled", "false").getOrCreate()) {
            List<ResultRow> rows = JobOutput.parquet(spark, out);
            assertEquals(corpus.keys.stream().sorted().toList(), rows.stream().map(JobOutput::key).sorted().toList());
            assertEquals(rows, JobOutput.arrow(out));
            assertEquals(4, rows.stream().filter(r -> r.status().equals(ResultRow.ERROR)).count());
        }
        // Each worker ran an executor, and each executor opened the model itself: the copy Spark shipped into
        // its working folder, on (or, with no CUDA here, for) the GPU its worker's discovery script reported.
        for (int i = 1; i <= 2; i++) {
            String executorLogs = readAll(dir.resolve("work" + i), "stderr");
            Matcher opened = Pattern.compile("cascade-lm: opened (\\S+) on the .*, GPU (\\d+) \\(assigned by Spark\\)").matcher(executorLogs);
            assertTrue(opened.find(), "worker " + i + " executor log:\n" + tail(executorLogs));
            assertTrue(Path.of(opened.group(1)).startsWith(dir.resolve("work" + i)), "the shipped copy: " + opened.group(1));
            assertEquals(TestCorpus.MODEL.getFileName(), Path.of(opened.group(1)).getFileName());
            assertEquals(Integer.toString(GPU[i - 1]), opened.group(2), "worker " + i + "'s GPU");
        }
    }

    /** SparkSubmit's arguments for the job on this cluster: two one-core executors, the fixture model. */
    private static List<String> submit(String... jobArgs) {
        return submit(List.of(), TestCorpus.MODEL.toString(), jobArgs);
    }

    /** The same with more SparkSubmit options, and the model setting as the job should see it. */
    private static List<String> submit(List<String> submitOptions, String model, String... jobArgs) {
        String flags = System.getProperty("cascadelm.test.jvmFlags");
        List<String> submit = new ArrayList<>(List.of("org.apache.spark.deploy.SparkSubmit",
                "--master", masterUrl, "--deploy-mode", "client", "--class", CascadeJob.class.getName(),
                "--executor-memory", "640m", "--total-executor-cores", "2",
                "--conf", "spark.executor.cores=1",
                "--conf", "spark.executor.extraJavaOptions=" + flags,
                "--conf", "spark.driver.host=127.0.0.1",
                "--conf", "spark.ui.enabled=false",
                // Start only once both executors are there, and spread tasks rather than wait for locality.
                "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
                "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=60s",
                "--conf", "spark.locality.wait=0",
                "--conf", "spark.cascade.summary-max-tokens=8"));
        submit.addAll(submitOptions);
        submit.add(appJar.toString());
        submit.addAll(Arrays.asList(jobArgs));
        submit.addAll(List.of("--conf", "model=" + model, "--conf", "cache-size=512", "--conf", "stride=128"));
        return submit;
    }

    /**
     * A machine lost while documents are in flight: worker 1's JVM and its executor are SIGKILLed once both
     * executors are reading documents. Spark reruns the lost tasks (and the lost shuffle output) on the other
     * executor; the output still holds exactly one row per key, all of them answers. Runs last: the cluster
     * has one worker afterwards.
     */
    @Test
    @Order(2)
    void aWorkerKilledWhileDocumentsAreInFlightCostsNoRow() throws Exception {
        Path docs = Files.createDirectories(dir.resolve("kill-corpus"));
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            Files.writeString(docs.resolve("book-" + i + ".txt"),
                    ("On day " + i + " the ferryman painted the boat green and Ilse watched the storm. ").repeat(150));
            keys.add("book-" + i + ".txt|summary|");
        }
        Path out = dir.resolve("out-kill");
        Set<Path> oldApps = appDirs();
        Process driver = start("driver-kill", "-Xmx1g", Map.of(), submit("--corpus", docs.toString(), "--output", out.toString(),
                "--partitions", "8").toArray(String[]::new));
        try {
            // In flight: each executor of this application has opened the model, i.e. started its first document.
            long deadline = System.nanoTime() + JOB_LIMIT.toNanos();
            while (!(opened(1, oldApps) && opened(2, oldApps))) {
                if (!driver.isAlive()) fail("the job ended before both executors started\n" + logs());
                if (System.nanoTime() > deadline) fail("the executors did not start within " + JOB_LIMIT + "\n" + logs());
                Thread.sleep(200);
            }
            Process worker1 = cluster.get(1);
            List<ProcessHandle> executors = worker1.toHandle().descendants().toList();
            assertFalse(executors.isEmpty(), "worker 1 runs an executor");
            worker1.destroyForcibly();   // SIGKILL, with its executor: a machine gone, nothing shut down
            executors.forEach(ProcessHandle::destroyForcibly);
            assertTrue(worker1.waitFor(30, TimeUnit.SECONDS));

            if (!driver.waitFor(JOB_LIMIT.toSeconds(), TimeUnit.SECONDS)) fail("the job did not finish after the kill\n" + logs());
        } finally {
            driver.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            driver.destroyForcibly();
        }
        String driverLog = Files.readString(dir.resolve("driver-kill.log"));
        assertEquals(0, driver.exitValue(), tail(driverLog));
        assertTrue(driverLog.contains("Lost executor") || driverLog.contains("ExecutorLost") || driverLog.contains("Lost task"),
                "the driver saw the executor go:\n" + tail(driverLog));
        try (SparkSession spark = SparkSession.builder().master("local[1]").appName("cluster-check")
                .config("spark.ui.enabled", "false").getOrCreate()) {
            List<ResultRow> rows = JobOutput.parquet(spark, out);
            assertEquals(keys.stream().sorted().toList(), rows.stream().map(JobOutput::key).toList(), "one row per key");
            assertTrue(rows.stream().allMatch(ResultRow::ok), rows.toString());
            assertEquals(rows, JobOutput.arrow(out));
        }
    }

    private static Set<Path> appDirs() throws IOException {
        Set<Path> apps = new java.util.HashSet<>();
        for (int i = 1; i <= 2; i++) {
            Path work = dir.resolve("work" + i);
            if (!Files.isDirectory(work)) continue;
            try (Stream<Path> s = Files.list(work)) {
                s.forEach(apps::add);
            }
        }
        return apps;
    }

    /** Whether worker i's executor of an application started after {@code oldApps} has opened the model. */
    private static boolean opened(int worker, Set<Path> oldApps) throws IOException {
        Path work = dir.resolve("work" + worker);
        if (!Files.isDirectory(work)) return false;
        try (Stream<Path> apps = Files.list(work)) {
            for (Path app : apps.filter(a -> !oldApps.contains(a)).toList()) {
                if (readAll(app, "stderr").contains("cascade-lm: opened")) return true;
            }
        }
        return false;
    }

    /** SPARK_HOME as the workers expect it: jars/ holding the test class path (directories jarred up). */
    private static Path fakeSparkHome() throws IOException {
        Path home = Files.createTempDirectory("cascade-spark-home");
        Path jars = Files.createDirectories(home.resolve("jars"));
        Files.createDirectories(home.resolve("conf"));
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        int n = 0;
        for (String entry : cp.split(File.pathSeparator)) {
            Path p = Path.of(entry);
            if (Files.isRegularFile(p) && entry.endsWith(".jar")) {
                Path link = jars.resolve(p.getFileName());
                if (!Files.exists(link)) Files.createSymbolicLink(link, p.toAbsolutePath());
            } else if (Files.isDirectory(p) && !p.endsWith("test-classes")) {
                Path jar = jars.resolve("classes-" + (n++) + "-" + p.getParent().getFileName() + ".jar");
                jarUp(p, jar);
                if (p.getParent().getFileName().toString().equals("target") && p.getParent().getParent().getFileName().toString().equals("spark-job")) {
                    appJar = jar;
                }
            }
        }
        if (appJar == null) {
            appJar = Files.list(jars).filter(p -> p.getFileName().toString().startsWith("spark-job")).findFirst().orElseThrow();
        }
        return home;
    }

    /** A JVM of the cluster; {@code mainAndArgs} may start with -D system properties. */
    private static Process start(String name, String heap, Map<String, String> env, String... mainAndArgs) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), heap));
        cmd.addAll(Arrays.asList(System.getProperty("cascadelm.test.jvmFlags").trim().split("\\s+")));
        cmd.addAll(List.of("-Dlog4j2.configurationFile=" + Path.of("src/test/resources/log4j2-test.properties").toAbsolutePath(),
                "-cp", sparkHome.resolve("jars") + File.separator + "*"));
        cmd.addAll(Arrays.asList(mainAndArgs));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".log").toFile());
        pb.environment().put("SPARK_HOME", sparkHome.toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.13");
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().putAll(env);
        return pb.start();
    }

    private static void awaitAliveWorkers(int n) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + START_LIMIT.toNanos();
        Pattern alive = Pattern.compile("\"aliveworkers\"\\s*:\\s*(\\d+)");
        while (System.nanoTime() < deadline) {
            for (Process p : cluster) if (!p.isAlive()) fail("a cluster process died\n" + logs());
            try {
                String json = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + masterUi + "/json/"))
                        .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString()).body();
                Matcher m = alive.matcher(json);
                if (m.find() && Integer.parseInt(m.group(1)) >= n) return;
            } catch (IOException e) {
                // The master is not listening yet.
            }
            Thread.sleep(500);
        }
        fail(n + " workers did not register within " + START_LIMIT + "\n" + logs());
    }

    private static void jarUp(Path classes, Path jar) throws IOException {
        try (OutputStream o = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(o);
             Stream<Path> files = Files.walk(classes)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                j.putNextEntry(new JarEntry(classes.relativize(f).toString().replace(File.separatorChar, '/')));
                Files.copy(f, j);
                j.closeEntry();
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 0, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static String logs() {
        StringBuilder b = new StringBuilder();
        for (String name : List.of("master", "worker1", "worker2", "driver", "driver-kill")) {
            try {
                b.append("--- ").append(name).append(" ---\n").append(tail(Files.readString(dir.resolve(name + ".log"))));
            } catch (IOException e) {
                b.append("(no ").append(name).append(" log)\n");
            }
        }
        return b.toString();
    }

    private static String readAll(Path root, String fileName) throws IOException {
        if (!Files.isDirectory(root)) return "";
        StringBuilder b = new StringBuilder();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(p -> p.getFileName().toString().equals(fileName)).toList()) b.append(Files.readString(p));
        }
        return b.toString();
    }

    private static String tail(String s) {
        List<String> lines = s.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size())) + "\n";
    }
}
