package cascadelm.bench.eval;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The share of the machine's CPUs that other processes used during a measurement, from /proc/stat minus this
 * process's own CPU time. Timings from a shared machine say little without it (a build beside a 2-core run
 * halves it). Reads 0 where /proc/stat is missing. (cascadelm.bench.CpuLoad does the same for the engine
 * benchmark; it is package-private there, so this stays separate until the two are merged.)
 */
public record MachineLoad(long wallNanos, double busySeconds, double ownSeconds) {
    private static final double USER_HZ = 100;   // the unit of /proc/stat on every Linux we run on

    public static MachineLoad now() {
        double busy = 0;
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).getFirst().trim().split("\\s+");
            // cpu user nice system idle iowait irq softirq steal ...
            busy = (Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6])
                    + Long.parseLong(f[7])) / USER_HZ;
        } catch (IOException | RuntimeException e) {
            // no /proc/stat: report no load rather than fail the measurement
        }
        double own = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime() / 1e9;
        return new MachineLoad(System.nanoTime(), busy, own);
    }

    /** Share of all cores (0..1) that other processes used since {@code earlier}. */
    public double othersShareSince(MachineLoad earlier) {
        double capacity = (wallNanos - earlier.wallNanos) / 1e9 * Runtime.getRuntime().availableProcessors();
        double others = (busySeconds - earlier.busySeconds) - (ownSeconds - earlier.ownSeconds);
        return capacity <= 0 ? 0 : Math.clamp(others / capacity, 0, 1);
    }
}
