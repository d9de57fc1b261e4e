package cascadelm.spark;

import org.apache.spark.Partitioner;

import java.io.Serial;
import java.util.HashMap;
import java.util.Map;

/** Puts each document into the partition {@link cascadelm.spark.core.TokenBalancer} chose for it. */
final class BalancedPartitioner extends Partitioner {
    @Serial
    private static final long serialVersionUID = 1L;

    private final HashMap<String, Integer> assignment;
    private final int partitions;

    BalancedPartitioner(Map<String, Integer> assignment, int partitions) {
        this.assignment = new HashMap<>(assignment);
        this.partitions = partitions;
    }

    @Override
    public int numPartitions() {
        return partitions;
    }

    @Override
    public int getPartition(Object key) {
        Integer p = assignment.get((String) key);
        // Every key was costed on the driver; a stray one still gets a valid partition.
        return p != null ? p : Math.floorMod(key.hashCode(), partitions);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BalancedPartitioner b && b.partitions == partitions && b.assignment.equals(assignment);
    }

    @Override
    public int hashCode() {
        return assignment.hashCode() * 31 + partitions;
    }
}
