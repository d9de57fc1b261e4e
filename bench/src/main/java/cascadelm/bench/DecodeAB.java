package cascadelm.bench;

import cascadelm.kernels.TensorType;

import java.io.File;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Decode speed of two builds of the gpu-kernels classes, side by side in one JVM: each build gets its own
 * class loader (model and kernels loaded afresh) and its own backend, and their decode steps alternate one
 * by one (ABBA order), so that whatever else the shared machine runs slows both alike. Reports the median
 * step of each, their ratio (of the medians, and the median of the ratios of the steps run side by side), the floor (weight bytes per token over the best memory read bandwidth measured before
 * and after), and each build's step over a paired floor: a {@link BandwidthProbe} runs after every pair of
 * steps, and each step is set against the floor at that probe's bandwidth (median over the steps).
 *
 * <pre>
 * DecodeAB --a DIR --b DIR [--a-name A] [--b-name B] [--types F16,Q8_0,Q4_0] [--steps 96] [--threads N]
 *          [--models DIR] [--out FILE] [--cpu-time]
 * </pre>
 * DIR is a gpu-kernels classes directory or jar; the rest of the class path comes from this JVM's. DIR may
 * also list more entries, separated as a class path is, that come first (e.g. the same build's model
 * classes, where the two builds' model modules differ).
 * {@code --cpu-time} times each step by the process's CPU time instead of the wall clock (a busy shared
 * machine inflates wall time by the time slices other processes take; the floor columns then compare CPU
 * time with the floor).
 */
public final class DecodeAB {
    private static final long SEED = 42;
    private static final int WARMUP_STEPS = 48;

    private DecodeAB() {
    }

    public static void main(String[] args) throws Exception {
        String a = null, b = null, aName = "A", bName = "B";
        List<TensorType> types = List.of(TensorType.F16, TensorType.Q8_0, TensorType.Q4_0);
        int steps = 96;
        int threads = Runtime.getRuntime().availableProcessors();
        Path models = Path.of("bench/target/models");
        Path out = null;
        boolean cpuTime = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--a" -> a = args[++i];
                case "--b" -> b = args[++i];
                case "--a-name" -> aName = args[++i];
                case "--b-name" -> bName = args[++i];
                case "--types" -> types = Arrays.stream(args[++i].split(",")).map(TensorType::valueOf).toList();
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--models" -> models = Path.of(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                case "--cpu-time" -> cpuTime = true;
                default -> {
                    System.err.println("unknown argument " + args[i] + "\nusage: DecodeAB --a DIR --b DIR [--a-name A] [--b-name B] "
                            + "[--types F16,Q8_0,Q4_0] [--steps 96] [--threads N] [--models DIR] [--out FILE] [--cpu-time]");
                    System.exit(2);
                }
            }
        }
        if (a == null || b == null) {
            System.err.println("DecodeAB needs --a and --b: the two gpu-kernels builds (classes directory or jar) to compare");
            System.exit(2);
        }
        for (String dirs : List.of(a, b)) {
            for (String dir : dirs.split(File.pathSeparator)) {
                if (!Files.exists(Path.of(dir))) {
                    System.err.println("no such gpu-kernels build: " + dir);
                    System.exit(2);
                }
            }
        }

        MachinePeaks.Peaks peaks = MachinePeaks.measure(threads);
        System.out.println(peaks.describe());
        StringBuilder table = new StringBuilder();
        table.append(String.format(Locale.ROOT, "| type | %s ms/token (median) | %s ms/token (median) | %s / %s | per step | floor ms | %s × floor | %s × floor "
                        + "| probe GB/s | %s × paired floor | %s × paired floor | others' CPU |%n",
                aName, bName, bName, aName, aName, bName, aName, bName));
        table.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        List<double[]> rows = new ArrayList<>();
        List<Long> bytes = new ArrayList<>();
        List<Double> others = new ArrayList<>();
        List<double[]> paired = new ArrayList<>();
        BandwidthProbe probe = new BandwidthProbe(threads);
        for (TensorType type : types) {
            Path file = RandomModel.ensure(models, RandomModel.Shape.LLAMA_3_2_1B, type, SEED);
            try (URLClassLoader la = loader(a); URLClassLoader lb = loader(b)) {
                Stepper sa = new Stepper(la, file, threads, cpuTime), sb = new Stepper(lb, file, threads, cpuTime);
                for (int i = 0; i < WARMUP_STEPS; i++) {
                    sa.step();
                    sb.step();
                }
                double[] ta = new double[steps], tb = new double[steps], pa = new double[steps], pb = new double[steps], gbps = new double[steps];
                long bytesPerToken = sa.bytesPerToken();
                probe.readGBps();
                CpuLoad.Snapshot l0 = CpuLoad.now();
                for (int i = 0; i < steps; i++) {
                    if (i % 2 == 0) {          // ABBA: neither build always runs right after the other
                        ta[i] = sa.step();
                        tb[i] = sb.step();
                    } else {
                        tb[i] = sb.step();
                        ta[i] = sa.step();
                    }
                    gbps[i] = probe.readGBps();
                    pa[i] = ta[i] / EngineBenchmark.floorMs(bytesPerToken, gbps[i]);
                    pb[i] = tb[i] / EngineBenchmark.floorMs(bytesPerToken, gbps[i]);
                }
                double share = CpuLoad.othersShare(l0, CpuLoad.now());
                System.out.printf(Locale.ROOT, "%s: %s median %.1f ms, %s median %.1f ms (others used %.0f%% of the CPUs)%n",
                        type, aName, median(ta), bName, median(tb), 100 * share);
                double[] ratio = new double[steps];
                for (int i = 0; i < steps; i++) ratio[i] = tb[i] / ta[i];
                rows.add(new double[] {median(ta), median(tb), median(ratio)});
                paired.add(new double[] {median(gbps), median(pa), median(pb)});
                bytes.add(sa.bytesPerToken());
                others.add(share);
                sa.close();
                sb.close();
            }
        }
        probe.close();
        peaks = peaks.max(MachinePeaks.measure(threads));
        System.out.println(peaks.describe());
        for (int i = 0; i < types.size(); i++) {
            double floor = 1e3 * bytes.get(i) / (peaks.readGBps() * 1e9);
            double[] r = rows.get(i);
            double[] q = paired.get(i);
            table.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.2f | %.2f | %.1f | %.2f× | %.2f× | %.1f | %.2f× | %.2f× | %.0f%% |%n",
                    types.get(i), r[0], r[1], r[1] / r[0], r[2], floor, r[0] / floor, r[1] / floor, q[0], q[1], q[2], 100 * others.get(i)));
        }
        String md = String.format(Locale.ROOT, "- date: %s%n- %s: `%s`, %s: `%s`; %d alternating steps each after %d warm-up steps, %d threads, %s%n"
                        + "- floor = weight bytes per token / %.1f GB/s (best all-core memory read measured before and after); "
                        + "paired floor = the same bytes at the bandwidth of the probe run after each pair of steps (median of the probes "
                        + "in `probe GB/s`, median over the steps in `× paired floor`); per step = median over the step pairs of B's step / A's%n%n%s",
                ZonedDateTime.now().format(DateTimeFormatter.ISO_INSTANT), aName, a, bName, b, steps, WARMUP_STEPS, threads,
                cpuTime ? "process CPU time per step" : "wall time per step",
                peaks.readGBps(), table);
        System.out.println();
        System.out.print(md);
        if (out != null) {
            Files.writeString(out, md);
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /**
     * This JVM's class path with the gpu-kernels jar or classes replaced by {@code kernels} (one entry, or several
     * separated as a class path is, searched first); the platform loader as parent.
     */
    static URLClassLoader loader(String kernels) throws Exception {
        List<URL> urls = new ArrayList<>();
        for (String entry : kernels.split(File.pathSeparator)) {
            urls.add(Path.of(entry).toUri().toURL());
        }
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String name = Path.of(entry).getFileName().toString();
            boolean isKernels = name.startsWith("gpu-kernels") || entry.contains("gpu-kernels" + File.separator + "target");
            if (!entry.isEmpty() && !isKernels) urls.add(Path.of(entry).toUri().toURL());
        }
        return new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader());
    }

    /** A {@link DecodeStepper} of one loader, called reflectively. */
    private static final class Stepper {
        private final Object target;
        private final Method step, bytesPerToken, close;

        Stepper(ClassLoader loader, Path model, int threads, boolean cpuTime) throws Exception {
            Class<?> c = Class.forName(DecodeStepper.class.getName(), true, loader);
            Constructor<?> k = c.getConstructor(String.class, int.class);
            target = k.newInstance(model.toString(), threads);
            step = c.getMethod(cpuTime ? "cpuStep" : "step");
            bytesPerToken = c.getMethod("bytesPerToken");
            close = c.getMethod("close");
        }

        double step() throws Exception {
            return (double) step.invoke(target);
        }

        long bytesPerToken() throws Exception {
            return (long) bytesPerToken.invoke(target);
        }

        void close() throws Exception {
            close.invoke(target);
        }
    }
}
