package cascadelm.model.cli;

import cascadelm.model.llama.LlamaModel;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Options shared by the commands that open a model (public: the commands in {@code bench} use them too). */
public final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "FILE", description = "GGUF model file.")
    public Path model;

    @Option(names = "--verbose", description = "Print stack traces with errors.")
    public boolean verbose;

    public LlamaModel open() throws IOException {
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
