package cascadelm.spark;

import cascadelm.model.cache.Caches;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelConfig;
import cascadelm.spark.core.ExecutorModel;
import cascadelm.spark.core.JobSettings;

import java.io.IOException;
import java.nio.file.Path;

/**
 * What the driver checks before any work: the model opens and the backend exists. Failing here costs
 * seconds; failing on the executors would cost a scheduled job.
 */
final class DriverCheck {
    private DriverCheck() {
    }

    /** What result rows will report about the model, known on the driver (for rows no executor makes). */
    record Result(String modelName, String backend, String cacheDescription, String architecture) {
    }

    static Result check(JobSettings settings) throws IOException {
        Path file = ProcessPartition.modelFile(settings.modelPath());
        ExecutorModel.check(file, settings);
        try (LlamaModel model = LlamaModel.open(file)) {
            ModelConfig c = model.config();
            String cache = Caches.create(settings.cache(), c.layers(), c.heads(), c.kvHeads(), c.headDim(), 1).describe();
            return new Result(file.getFileName().toString(), "cpu", cache, c.architecture());
        }
    }
}
