package cascadelm.spark.core;

import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * Which GPU this code should use: the address Spark assigned to the running task (with
 * {@code spark.task.resource.gpu.amount} and a discovery script, Spark hands each task its GPU ordinals), else
 * the {@code device} setting (local runs, or a cluster without GPU scheduling).
 */
public final class GpuAssignment {
    private GpuAssignment() {
    }

    /** The GPU ordinal to open. */
    public static int ordinal(JobSettings settings) {
        Integer assigned = assigned();
        return assigned != null ? assigned : settings.device();
    }

    /** The GPU ordinal Spark assigned to the running task, or null (no task, or no GPU scheduling). */
    public static Integer assigned() {
        TaskContext task = TaskContext.get();
        if (task == null) return null;
        ResourceInformation gpu = task.resources().get("gpu").getOrElse(() -> null);
        return gpu != null && gpu.addresses().length > 0 ? parse(gpu.addresses()[0]) : null;
    }

    static int parse(String address) {
        try {
            return Integer.parseInt(address.trim());
        } catch (NumberFormatException e) {
            throw new ExecutorModel.ModelUnavailableException("Spark assigned GPU address '" + address
                    + "', which is not a device ordinal; make the GPU discovery script print ordinals");
        }
    }
}
