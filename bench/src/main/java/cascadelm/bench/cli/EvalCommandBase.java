package cascadelm.bench.cli;

import cascadelm.bench.eval.ModelIdentity;
import cascadelm.bench.eval.Progress;
import cascadelm.bench.eval.Sessions;
import cascadelm.kernels.Backend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cli.Main;
import cascadelm.model.llama.LlamaModel;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * What the evaluation and benchmark commands share: the model, cache and thread options ({@link EngineOptions}),
 * the output folder, progress and the configuration block of the results JSON.
 */
abstract class EvalCommandBase implements Callable<Integer> {
    /** Where results go without --out, relative to the working directory. */
    static final String DEFAULT_OUT = "cascade-lm-results";

    @Spec
    CommandSpec spec;

    @Mixin
    EngineOptions engine;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Folder for the JSON and PNG files (default: " + DEFAULT_OUT + "/<command>-<date>-<time>).")
    Path out;

    private final String started = OffsetDateTime.now().withNano(0).toString();

    /** The command's name as results and folders call it, e.g. "passkey". */
    abstract String name();

    PrintWriter stdout() {
        return spec.commandLine().getOut();
    }

    PrintWriter stderr() {
        return spec.commandLine().getErr();
    }

    /** Fails with a usage error naming the option when {@code check} throws IllegalArgumentException. */
    static <T> T usage(java.util.function.Supplier<T> check) {
        try {
            return check.get();
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }

    /** The full cache past the trained context still runs, but its numbers say little about the method. */
    void warnBeyondContext(LlamaModel model, List<CacheSettings> policies, int longest) {
        int trained = model.config().contextLength();
        boolean full = policies.stream().anyMatch(s -> s.policy() == CacheSettings.Policy.FULL);
        if (full && trained > 0 && longest > trained) {
            stderr().printf("warning: the full cache at %,d tokens goes beyond the model's trained context (%,d);"
                    + " expect its quality to collapse there%n", longest, trained);
            stderr().flush();
        }
    }

    Path outputDir() throws IOException {
        Path dir = out != null ? out : Path.of(DEFAULT_OUT,
                name() + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        if (Files.exists(dir) && !Files.isDirectory(dir)) throw new Main.UsageException("--out: " + dir + " is a file, not a folder");
        return Files.createDirectories(dir);
    }

    Progress progress(String task, long totalTokens) {
        return Progress.create(task, totalTokens, Progress.stderrIsTerminal() ? System.err : null, stderr(), 5000);
    }

    /**
     * The configuration block of the results JSON: everything needed to run the same measurement again.
     */
    Map<String, Object> configuration(LlamaModel model, Backend backend, List<CacheSettings> policies) throws IOException {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("command", name());
        c.put("arguments", spec.commandLine().getParseResult().originalArgs());
        c.put("date", started);
        c.put("model", ModelIdentity.describe(engine.modelOptions.model, model));
        Map<String, Object> byPolicy = new LinkedHashMap<>();
        for (CacheSettings s : policies) byPolicy.put(Sessions.label(s), s.asMap());
        c.put("policies", byPolicy);
        c.put("backend", backend.name());
        c.put("threads", engine.threads);
        c.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        c.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        c.put("cpus", Runtime.getRuntime().availableProcessors());
        return c;
    }

    void wrote(Path file) {
        stderr().println("wrote " + file);
        stderr().flush();
    }
}
