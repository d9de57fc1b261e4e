package cascadelm.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How much of the machine other processes used while we measured, from /proc/stat and this process's
 * own CPU time. The machine may be shared (a build beside the benchmark halves its figures on 2 cores),
 * so every result carries this, and the benchmark waits for a quiet machine before measuring.
 * Where /proc/stat is missing (not Linux) every share reads 0.
 */
public final class CpuLoad {
    private static final double USER_HZ = 100;   // the unit of /proc/stat on every Linux we run on
    private static final int CORES = Runtime.getRuntime().availableProcessors();

    public record Snapshot(long wallNanos, double busySeconds, double stealSeconds, double ownSeconds) {
    }

    private CpuLoad() {
    }

    public static Snapshot now() {
        double busy = 0, steal = 0;
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).getFirst().trim().split("\\s+");
            // cpu user nice system idle iowait irq softirq steal ...
            busy = (Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6])
                    + Long.parseLong(f[7])) / USER_HZ;
            steal = f.length > 8 ? Long.parseLong(f[8]) / USER_HZ : 0;
        } catch (IOException | RuntimeException e) {
            // no /proc/stat: report no load rather than fail the benchmark
        }
        double own = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime() / 1e9;
        return new Snapshot(System.nanoTime(), busy, steal, own);
    }

    /** Share of all cores (0..1) that other processes used between a and b. */
    public static double othersShare(Snapshot a, Snapshot b) {
        double capacity = (b.wallNanos - a.wallNanos) / 1e9 * CORES;
        double others = (b.busySeconds - a.busySeconds) - (b.ownSeconds - a.ownSeconds);
        return capacity <= 0 ? 0 : Math.clamp(others / capacity, 0, 1);
    }

    /** Share of all cores the hypervisor gave to other guests between a and b. */
    static double stealShare(Snapshot a, Snapshot b) {
        double capacity = (b.wallNanos - a.wallNanos) / 1e9 * CORES;
        return capacity <= 0 ? 0 : Math.clamp((b.stealSeconds - a.stealSeconds) / capacity, 0, 1);
    }

    /**
     * Waits, up to maxSeconds, until other processes use under {@code maxShare} of the machine over a
     * one-second window; returns the share of the last window.
     */
    static double waitForQuiet(double maxShare, int maxSeconds) throws InterruptedException {
        long deadline = System.nanoTime() + maxSeconds * 1_000_000_000L;
        boolean told = false;
        while (true) {
            Snapshot a = now();
            Thread.sleep(1000);
            double share = othersShare(a, now());
            if (share < maxShare || System.nanoTime() > deadline) return share;
            if (!told) {
                System.out.printf(Locale.ROOT, "other processes use %.0f%% of the CPUs; waiting up to %d s for quiet...%n",
                        100 * share, maxSeconds);
                told = true;
            }
        }
    }
}
