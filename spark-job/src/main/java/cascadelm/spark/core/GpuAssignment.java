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
        TaskContext task = TaskContext.get();
        if (task != null) {
            ResourceInformation gpu = task.resources().get("gpu").getOrElse(() -> null);
            if (gpu != null && gpu.addresses().length > 0) return parse(gpu.addresses()[0]);
        }
        return settings.device();
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
