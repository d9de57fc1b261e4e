package cascadelm.bench;

import java.lang.reflect.Method;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * One matmul call of two gpu-kernels builds side by side in one JVM, as {@link DecodeAB} does for whole
 * decode steps: each build in its own class loader with its own backend ({@link MatmulStepper}), calls
 * alternating in short ABBA rounds so a busy machine slows both alike. Prints, per type and shape, the
 * median call of each build, the ratio B / A, weight GB/s (n = 1) or GFLOP/s, the largest difference of
 * their outputs relative to the largest output, and the share of the CPUs other processes used.
 *
 * <pre>
 * MatmulAB --a DIR --b DIR [--a-name A] [--b-name B] [--types F16,Q8_0,Q4_0]
 *          [--shapes 8192x2048,2048x8192,2048x2048,512x2048] [--n 1] [--rounds 20] [--threads N] [--cpu-time]
 *          [--in-cache]
 * </pre>
 * {@code --cpu-time} (one thread only) times each call by the calling thread's CPU time instead of the wall
 * clock: on a machine whose cores other processes share, it leaves out the time slices they took.
 * {@code --in-cache} times one copy of the matrix over and over (the kernel's speed with its weights in
 * cache) instead of streaming copies of at least 256 MB from memory at n = 1.
 */
public final class MatmulAB {
    private MatmulAB() {
    }

    public static void main(String[] args) throws Exception {
        String a = null, b = null, aName = "A", bName = "B";
        List<String> types = List.of("F16", "Q8_0", "Q4_0");
        List<String> shapes = List.of("8192x2048", "2048x8192", "2048x2048", "512x2048");
        int n = 1, rounds = 20;
        int threads = Runtime.getRuntime().availableProcessors();
        boolean cpuTime = false, inCache = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--a" -> a = args[++i];
                case "--b" -> b = args[++i];
                case "--a-name" -> aName = args[++i];
                case "--b-name" -> bName = args[++i];
                case "--types" -> types = Arrays.asList(args[++i].split(","));
                case "--shapes" -> shapes = Arrays.asList(args[++i].split(","));
                case "--n" -> n = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--cpu-time" -> cpuTime = true;
                case "--in-cache" -> inCache = true;
                default -> {
                    System.err.println("unknown argument " + args[i] + "\nusage: MatmulAB --a DIR --b DIR [--a-name A] [--b-name B] "
                            + "[--types F16,Q8_0,Q4_0] [--shapes 8192x2048,...] [--n 1] [--rounds 20] [--threads N]");
                    System.exit(2);
                }
            }
        }
        if (cpuTime && threads != 1) {
            System.err.println("--cpu-time needs --threads 1: the CPU time of the calling thread is the call's only there");
            System.exit(2);
        }
        if (a == null || b == null || !Files.exists(Path.of(a)) || !Files.exists(Path.of(b))) {
            System.err.println("MatmulAB needs --a and --b: two existing gpu-kernels builds (classes directory or jar)");
            System.exit(2);
        }
        System.out.printf(Locale.ROOT, "%s = %s, %s = %s, n = %d, %d threads, %d ABBA rounds of ~40 ms per build, %s%n", aName, a, bName, b, n, threads, rounds,
                cpuTime ? "thread CPU time" : "wall time");
        System.out.printf(Locale.ROOT, "%-5s %-10s %12s %12s %8s %10s %10s %9s %7s%n", "type", "shape", aName + " ms", bName + " ms", "B/A",
                aName + (n == 1 ? " GB/s" : " GF/s"), bName + (n == 1 ? " GB/s" : " GF/s"), "max diff", "others");
        try (URLClassLoader la = DecodeAB.loader(a); URLClassLoader lb = DecodeAB.loader(b)) {
            for (String shape : shapes) {
                int rows = Integer.parseInt(shape.split("x")[0]), cols = Integer.parseInt(shape.split("x")[1]);
                for (String type : types) {
                    Stepper sa = new Stepper(la, type, rows, cols, n, threads, cpuTime, inCache),
                            sb = new Stepper(lb, type, rows, cols, n, threads, cpuTime, inCache);
                    for (int w = 0; w < 4; w++) { // warm-up: C2 compiles both
                        sa.runFor(60);
                        sb.runFor(60);
                    }
                    List<Double> ta = new ArrayList<>(), tb = new ArrayList<>();
                    CpuLoad.Snapshot l0 = CpuLoad.now();
                    for (int r = 0; r < rounds; r++) {
                        if (r % 2 == 0) {
                            ta.addAll(sa.runFor(40));
                            tb.addAll(sb.runFor(40));
                        } else {
                            tb.addAll(sb.runFor(40));
                            ta.addAll(sa.runFor(40));
                        }
                    }
                    double others = CpuLoad.othersShare(l0, CpuLoad.now());
                    float[] oa = sa.out(), ob = sb.out();
                    double diff = 0, max = 0;
                    for (int i = 0; i < oa.length; i++) {
                        diff = Math.max(diff, Math.abs(oa[i] - ob[i]));
                        max = Math.max(max, Math.abs(oa[i]));
                    }
                    double ma = median(ta), mb = median(tb);
                    double bytes = (double) rows * bytesPerRow(type, cols), flops = 2.0 * rows * cols * n;
                    double per = n == 1 ? bytes : flops;
                    System.out.printf(Locale.ROOT, "%-5s %-10s %12.3f %12.3f %8.3f %10.1f %10.1f %9.1e %6.0f%%%n", type, shape, ma, mb, mb / ma,
                            per / ma / 1e6, per / mb / 1e6, diff / max, 100 * others);
                    sa.close();
                    sb.close();
                }
            }
        }
    }

    private static long bytesPerRow(String type, int cols) {
        return switch (type) {
            case "F32" -> 4L * cols;
            case "F16", "BF16" -> 2L * cols;
            case "Q8_0" -> cols / 32 * 34L;
            case "Q4_0" -> cols / 32 * 18L;
            case "Q4_K" -> cols / 256 * 144L;
            case "Q6_K" -> cols / 256 * 210L;
            default -> throw new IllegalArgumentException(type);
        };
    }

    private static double median(List<Double> v) {
        double[] s = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** A {@link MatmulStepper} of one loader, called reflectively. */
    private static final class Stepper {
        private final Object target;
        private final Method step, out, close;

        Stepper(ClassLoader loader, String type, int rows, int cols, int n, int threads, boolean cpuTime, boolean inCache) throws Exception {
            Class<?> c = Class.forName(MatmulStepper.class.getName(), true, loader);
            target = c.getConstructor(String.class, int.class, int.class, int.class, int.class, long.class, boolean.class)
                    .newInstance(type, rows, cols, n, threads, 7L, inCache);
            step = c.getMethod(cpuTime ? "cpuStep" : "step");
            out = c.getMethod("out");
            close = c.getMethod("close");
        }

        /** Calls for about {@code millis} ms (at least 3); their times. */
        List<Double> runFor(int millis) throws Exception {
            List<Double> times = new ArrayList<>();
            long end = System.nanoTime() + millis * 1_000_000L;
            while (times.size() < 3 || System.nanoTime() < end) times.add((double) step.invoke(target));
            return times;
        }

        float[] out() throws Exception {
            return (float[]) out.invoke(target);
        }

        void close() throws Exception {
            close.invoke(target);
        }
    }
}
