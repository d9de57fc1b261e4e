package cascadelm.model.cli;

import cascadelm.model.gguf.GgufFile;
import cascadelm.model.gguf.GgufTensor;
import cascadelm.model.gguf.Metadata;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelConfig;
import cascadelm.model.tokenizer.ChatTemplate;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** {@code cascade-lm inspect FILE}: what a GGUF model is, without running it. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Print a GGUF model's architecture, sizes, quantization, vocabulary, context and chat template.")
final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "GGUF model file.")
    Path file;

    @Option(names = "--verbose", description = "Print stack traces with errors.")
    boolean verbose;

    @Override
    public Integer call() throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new Main.BadModelPathException("model file not found: " + file);
        }
        PrintWriter out = spec.commandLine().getOut();
        try (LlamaModel model = LlamaModel.open(file)) {
            GgufFile gguf = model.file();
            Metadata m = gguf.metadata();
            ModelConfig c = model.config();
            out.printf(Locale.ROOT, "file            %s (GGUF v%d, %s)%n", file, gguf.version(),
                    humanBytes(Files.size(file)));
            out.printf(Locale.ROOT, "name            %s%n", Main.printable(m.string("general.name", "(none)")));
            out.printf(Locale.ROOT, "architecture    %s%n", c.architecture());
            out.printf(Locale.ROOT, "parameters      %s%n", humanCount(parameters(gguf)));
            out.printf(Locale.ROOT, "layers          %d%n", c.layers());
            out.printf(Locale.ROOT, "embedding       %d%n", c.dim());
            out.printf(Locale.ROOT, "heads           %d query, %d key/value, head dim %d%n",
                    c.heads(), c.kvHeads(), c.headDim());
            out.printf(Locale.ROOT, "feed-forward    %d%n", c.ffnDim());
            out.printf(Locale.ROOT, "rope            theta %.0f, %s pairs%s%n", c.ropeTheta(),
                    c.neoxRope() ? "NeoX" : "interleaved",
                    gguf.tensor("rope_freqs.weight") != null ? ", scaled frequencies (rope_freqs)" : "");
            out.printf(Locale.ROOT, "context length  %d (trained)%n", c.contextLength());
            out.printf(Locale.ROOT, "quantization    %s%n", quantization(gguf));
            out.printf(Locale.ROOT, "vocabulary      %d tokens (%s%s)%n", c.vocabularySize(),
                    m.string("tokenizer.ggml.model", "?"),
                    m.has("tokenizer.ggml.pre") ? ", pre-tokenizer " + m.string("tokenizer.ggml.pre") : "");
            out.printf(Locale.ROOT, "output          %s%n",
                    gguf.tensor("output.weight") == null ? "tied to the token embedding" : "separate matrix");
            out.printf(Locale.ROOT, "chat template   %s%n", chatTemplate(m));
        }
        out.flush();
        return 0;
    }

    private static long parameters(GgufFile f) {
        long n = 0;
        for (GgufTensor t : f.tensors()) n += t.elements();
        return n;
    }

    /** Tensor types by how many parameters they hold, largest first, e.g. "Q4_K 71%, Q6_K 25%, F32 4%". */
    private static String quantization(GgufFile f) {
        Map<String, Long> byType = new TreeMap<>();
        long total = 0;
        for (GgufTensor t : f.tensors()) {
            byType.merge(t.typeName(), t.elements(), Long::sum);
            total += t.elements();
        }
        long all = Math.max(1, total);
        StringBuilder sb = new StringBuilder();
        byType.entrySet().stream()
                .sorted((a, b) -> Long.compare(b.getValue(), a.getValue()))
                .forEach(e -> sb.append(sb.isEmpty() ? "" : ", ").append(e.getKey())
                        .append(percent(100.0 * e.getValue() / all)));
        return sb.toString();
    }

    private static String chatTemplate(Metadata m) {
        if (!m.has("tokenizer.chat_template")) return "none";
        try {
            return "present (" + ChatTemplate.fromMetadata(m).format().name().toLowerCase(java.util.Locale.ROOT) + ")";
        } catch (RuntimeException e) {
            return "present (a format --chat does not support)";
        }
    }

    private static String percent(double p) {
        return p > 0 && p < 0.5 ? " <1%" : String.format(Locale.ROOT, " %.0f%%", p);
    }

    static String humanBytes(long bytes) {
        if (bytes < 1024) return bytes + " B";
        if (bytes < 1024 * 1024) return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
        if (bytes < 1024L * 1024 * 1024) return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
        return String.format(Locale.ROOT, "%.2f GiB", bytes / 1073741824.0);
    }

    static String humanCount(long n) {
        if (n < 1_000_000) return String.format(Locale.ROOT, "%.1fK", n / 1e3);
        if (n < 1_000_000_000) return String.format(Locale.ROOT, "%.1fM", n / 1e6);
        return String.format(Locale.ROOT, "%.2fB", n / 1e9);
    }
}
