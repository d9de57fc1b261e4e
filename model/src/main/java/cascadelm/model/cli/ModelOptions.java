package cascadelm.model.cli;

import cascadelm.model.llama.LlamaModel;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Options shared by the commands that open a model. */
final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "FILE", description = "GGUF model file.")
    Path model;

    @Option(names = "--verbose", description = "Print stack traces with errors.")
    boolean verbose;

    LlamaModel open() throws IOException {
        if (!Files.isRegularFile(model)) {
            throw new Main.BadModelPathException("model file not found: " + model
                    + " (pass --model with the path of a .gguf file)");
        }
        if (!Files.isReadable(model)) {
            throw new Main.BadModelPathException("model file is not readable: " + model);
        }
        return LlamaModel.open(model);
    }
}
