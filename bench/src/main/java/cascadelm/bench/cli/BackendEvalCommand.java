package cascadelm.bench.cli;

import cascadelm.kernels.Backend;
import cascadelm.model.cli.BackendOptions;
import picocli.CommandLine.Mixin;

/**
 * An evaluation that may run on any backend ({@code --backend}, {@code --device}): passkey, perplexity and qa.
 * ({@code bench prefill} times the CPU only, so it has no such options.)
 */
abstract class BackendEvalCommand extends EvalCommandBase {
    @Mixin
    BackendOptions backendOptions;

    Backend openBackend() {
        return backendOptions.open(engine.threads, stderr());
    }
}
