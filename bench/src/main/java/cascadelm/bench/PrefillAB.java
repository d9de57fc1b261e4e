package cascadelm.bench;

import java.lang.reflect.Method;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Strided prefill of two gpu-kernels builds side by side in one JVM, as {@link DecodeAB} does for decode
 * steps: each build in its own class loader with its own backend ({@link PrefillStepper}), whole prefills
 * alternating ABBA. Prints each build's median and the ratio B / A, with the share of the CPUs other
 * processes used.
 *
 * <pre>
 * PrefillAB --a DIR --b DIR --model FILE [--a-name A] [--b-name B] [--tokens 4096] [--rounds 6] [--threads N]
 *           [--settings cache=cascade,stride=512]
 * </pre>
 * DIR as for {@link DecodeAB}: a gpu-kernels build, optionally followed by more class path entries (its model classes).
 */
public final class PrefillAB {
    private PrefillAB() {
    }

    /** Whether every entry of a build's class path (see {@link DecodeAB#loader}) exists. */
    private static boolean exist(String entries) {
        for (String entry : entries.split(java.io.File.pathSeparator)) {
            if (!Files.exists(Path.of(entry))) return false;
        }
        return true;
    }

    public static void main(String[] args) throws Exception {
        String a = null, b = null, model = null, aName = "A", bName = "B", settings = "";
        int tokens = 4096, rounds = 6, threads = Runtime.getRuntime().availableProcessors();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--a" -> a = args[++i];
                case "--b" -> b = args[++i];
                case "--model" -> model = args[++i];
                case "--a-name" -> aName = args[++i];
                case "--b-name" -> bName = args[++i];
                case "--tokens" -> tokens = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--settings" -> settings = args[++i];
                default -> {
                    System.err.println("unknown argument " + args[i] + "\nusage: PrefillAB --a DIR --b DIR --model FILE [--a-name A] [--b-name B]"
                            + " [--tokens 4096] [--rounds 6] [--threads N] [--settings cache=cascade,stride=512]");
                    System.exit(2);
                }
            }
        }
        if (a == null || b == null || model == null || !exist(a) || !exist(b) || !Files.exists(Path.of(model))) {
            System.err.println("PrefillAB needs --a and --b (two existing gpu-kernels builds) and --model (an existing GGUF file)");
            System.exit(2);
        }
        try (URLClassLoader la = DecodeAB.loader(a); URLClassLoader lb = DecodeAB.loader(b)) {
            Stepper sa = new Stepper(la, model, threads, tokens, settings), sb = new Stepper(lb, model, threads, tokens, settings);
            sa.run();
            sb.run(); // warm-up: C2 compiles both
            double[] ta = new double[rounds], tb = new double[rounds];
            CpuLoad.Snapshot l0 = CpuLoad.now();
            for (int r = 0; r < rounds; r++) {
                if (r % 2 == 0) {
                    ta[r] = sa.run();
                    tb[r] = sb.run();
                } else {
                    tb[r] = sb.run();
                    ta[r] = sa.run();
                }
                System.out.printf(Locale.ROOT, "round %d: %s %.0f ms, %s %.0f ms%n", r, aName, ta[r], bName, tb[r]);
            }
            double others = CpuLoad.othersShare(l0, CpuLoad.now());
            double ma = median(ta), mb = median(tb);
            System.out.printf(Locale.ROOT, "%s: %d tokens, %d threads, settings [%s]; %s = %s, %s = %s%n", model, tokens, threads, settings, aName, a, bName, b);
            System.out.printf(Locale.ROOT, "median %s %.0f ms (%.0f tokens/s), %s %.0f ms (%.0f tokens/s); %s / %s = %.3f; others used %.0f%% of the CPUs%n",
                    aName, ma, tokens / ma * 1e3, bName, mb, tokens / mb * 1e3, bName, aName, mb / ma, 100 * others);
            sa.close();
            sb.close();
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** A {@link PrefillStepper} of one loader, called reflectively. */
    private static final class Stepper {
        private final Object target;
        private final Method run, close;

        Stepper(ClassLoader loader, String model, int threads, int tokens, String settings) throws Exception {
            Class<?> c = Class.forName(PrefillStepper.class.getName(), true, loader);
            target = c.getConstructor(String.class, int.class, int.class, String.class).newInstance(model, threads, tokens, settings);
            run = c.getMethod("run");
            close = c.getMethod("close");
        }

        double run() throws Exception {
            return (double) run.invoke(target);
        }

        void close() throws Exception {
            close.invoke(target);
        }
    }
}
