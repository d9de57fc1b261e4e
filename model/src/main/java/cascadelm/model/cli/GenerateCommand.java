package cascadelm.model.cli;

import cascadelm.kernels.Backend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cache.KvCache;
import cascadelm.model.generate.Generator;
import cascadelm.model.generate.Prompts;
import cascadelm.model.generate.Sampler;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelSession;
import cascadelm.model.llama.ModelSessions;
import cascadelm.model.tokenizer.Tokenizer;
import cascadelm.model.tokenizer.UnsupportedChatTemplateException;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code cascade-lm generate}: continues a prompt, streaming the text to stdout. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text after a prompt; the text streams to stdout, a summary line goes to stderr.")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    CacheOptions cacheOptions;

    @Mixin
    BackendOptions backendOptions;

    @ArgGroup(exclusive = true, multiplicity = "1")
    PromptSource prompt;

    static final class PromptSource {
        @Option(names = "--prompt", paramLabel = "TEXT", description = "The prompt text.")
        String text;

        @Option(names = "--prompt-file", paramLabel = "FILE", description = "Read the prompt from a UTF-8 file.")
        Path file;
    }

    @Option(names = "--max-tokens", defaultValue = "256", paramLabel = "N",
            description = "Most tokens to generate, 0 or more (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", paramLabel = "T",
            description = "Sampling temperature, a finite number ≥ 0; 0 is greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", defaultValue = "40", paramLabel = "K",
            description = "Sample among the K most likely tokens, K ≥ 0; 0 = no limit (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", defaultValue = "0.95", paramLabel = "P",
            description = "Nucleus sampling threshold in (0, 1] (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "CPU threads, 0 or more; 0 = all cores (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--chat", description = "Wrap the prompt in the model's chat template (Llama 3 or ChatML).")
    boolean chat;

    @Option(names = "--system", paramLabel = "TEXT", defaultValue = "You are a helpful assistant.",
            description = "System message with --chat (default: ${DEFAULT-VALUE}).")
    String system;

    @Override
    public Integer call() throws IOException {
        validate();
        CacheSettings settings = cacheOptions.settings();
        String text = promptText();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (LlamaModel model = modelOptions.open();
             Backend backend = backendOptions.open(threads, err)) {
            Tokenizer tokenizer = model.tokenizer();
            int[] tokens;
            try {
                tokens = chat ? Prompts.chat(model, system, text) : Prompts.plain(tokenizer, text);
            } catch (UnsupportedChatTemplateException e) {
                throw new Main.UsageException("--chat is not supported for this model: " + e.getMessage());
            }
            KvCache cache = ModelSessions.cache(backend, settings, model.config(), tokens.length + maxTokens);
            try (ModelSession session = ModelSessions.open(model, backend, cache, Math.min(settings.stride(), tokens.length))) {
                generate(session, tokenizer, tokens, backend.name(), out, err);
            } finally {
                cache.release();
            }
        }
        return 0;
    }

    private void generate(ModelSession session, Tokenizer tokenizer, int[] tokens, String backendName, PrintWriter out,
                          PrintWriter err) {
        Tokenizer.StreamingDecoder decoder = tokenizer.streamingDecoder();
        Generator.Result r = Generator.generate(session, tokens, new Sampler(temperature, topK, topP, seed),
                maxTokens, tokenizer.stopTokens(), token -> {
                    out.print(decoder.accept(token));
                    out.flush();
                }, new ProgressLine(err, "prefill", tokens.length, ProgressLine.stderrIsTerminal()));
        out.println(decoder.flush());
        out.flush();
        err.println(String.format(Locale.ROOT,
                "tokens in %d, out %d (%s) | prefill %.1f tok/s | decode %.1f tok/s | %s | %s",
                r.promptTokens(), r.tokens().length,
                r.stop() == Generator.Stop.STOP_TOKEN ? "stop token" : "max tokens",
                r.prefillTokensPerSecond(), r.decodeTokensPerSecond(), session.cache().describe(), backendName));
        err.flush();
    }

    private void validate() {
        if (maxTokens < 0) throw new Main.UsageException("--max-tokens must be ≥ 0, got " + maxTokens);
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new Main.UsageException("--temperature must be a finite number ≥ 0, got " + temperature);
        }
        if (topK < 0) throw new Main.UsageException("--top-k must be ≥ 0 (0 = no limit), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new Main.UsageException("--top-p must be in (0, 1], got " + topP);
        if (threads < 0) throw new Main.UsageException("--threads must be ≥ 0 (0 = all cores), got " + threads);
    }

    private String promptText() throws IOException {
        String text;
        if (prompt.file != null) {
            if (!Files.isRegularFile(prompt.file)) {
                throw new Main.UsageException("--prompt-file: no such file: " + prompt.file);
            }
            try {
                text = Prompts.readUtf8(prompt.file);
            } catch (CharacterCodingException e) {
                throw new Main.UsageException("--prompt-file: " + prompt.file + " is not valid UTF-8 text");
            } catch (NoSuchFileException e) {
                throw new Main.UsageException("--prompt-file: no such file: " + prompt.file);
            }
        } else {
            text = prompt.text;
        }
        if (text.isEmpty()) throw new Main.UsageException("the prompt is empty");
        return text;
    }
}
