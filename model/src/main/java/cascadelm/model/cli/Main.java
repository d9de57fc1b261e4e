package cascadelm.model.cli;

import cascadelm.model.gguf.ModelFormatException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;

/**
 * {@code cascade-lm}: the command line for one document at a time. Exit codes: 0 ok, 1 failure while
 * running, 2 usage (bad or missing options), 3 the model file cannot be used.
 */
@Command(name = "cascade-lm", mixinStandardHelpOptions = true, version = "cascade-lm 0.1.0",
        description = "Llama-family language models with a cascading KV cache.",
        subcommands = {GenerateCommand.class, InspectCommand.class, CorpusCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;
    public static final int EXIT_BAD_MODEL = 3;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required ("
                + String.join(", ", spec.commandLine().getSubcommands().keySet()) + ")");
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI and returns its exit code (tests call this instead of main). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
        for (CliExtension extension : java.util.ServiceLoader.load(CliExtension.class)) {
            extension.commands().forEach(cli::addSubcommand);
        }
        cli.setOut(out);
        cli.setErr(err);
        cli.setExitCodeExceptionMapper(Main::exitCode);
        String conf = System.getProperty("cascadelm.conf");
        {
            try {
                cli.setDefaultValueProvider(ConfDefaults.load(conf == null ? null : java.nio.file.Path.of(conf)));
            } catch (UsageException e) {
                err.println("cascade-lm: " + e.getMessage());
                err.flush();
                return EXIT_USAGE;
            }
        }
        CommandLine.IParameterExceptionHandler parameterErrors = cli.getParameterExceptionHandler();
        cli.setParameterExceptionHandler((e, arguments) -> parameterErrors.handleParseException(withRange(e), arguments));
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            boolean verbose = verbose(parseResult);
            commandLine.getErr().println("cascade-lm: " + oneLine(e));
            if (verbose) e.printStackTrace(commandLine.getErr());
            commandLine.getErr().flush();
            return exitCode(e);
        });
        return cli.execute(args);
    }

    /**
     * A value picocli could not convert ("'abc' is not an int") names the option but not what it accepts:
     * add the option's description, which states the range.
     */
    private static CommandLine.ParameterException withRange(CommandLine.ParameterException e) {
        if (e.getArgSpec() instanceof CommandLine.Model.OptionSpec option
                && e.getCause() instanceof CommandLine.TypeConversionException && option.description().length > 0) {
            return new CommandLine.ParameterException(e.getCommandLine(),
                    e.getMessage() + " (" + option.longestName() + ": " + String.join(" ", option.description()) + ")",
                    e.getCause(), option, e.getValue());
        }
        return e;
    }

    private static boolean verbose(CommandLine.ParseResult result) {
        for (CommandLine.ParseResult r = result; r != null; r = r.subcommand()) {
            if (r.hasMatchedOption("--verbose")) return true;
        }
        return false;
    }

    static int exitCode(Throwable e) {
        if (e instanceof ModelFormatException || e instanceof BadModelPathException) return EXIT_BAD_MODEL;
        if (e instanceof CommandLine.ParameterException || e instanceof UsageException) return EXIT_USAGE;
        return EXIT_FAILURE;
    }

    static String oneLine(Throwable e) {
        return printable(describe(e));
    }

    private static String describe(Throwable e) {
        if (e instanceof ModelFormatException) return "bad model file: " + e.getMessage();
        if (e instanceof NoSuchFileException) return "no such file: " + e.getMessage();
        if (e instanceof AccessDeniedException) return "cannot read: " + e.getMessage();
        if (e instanceof IOException) return "I/O error: " + e.getMessage();
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }

    /**
     * Text with its control characters escaped (a newline as backslash-n, ESC as backslash-u001b): messages
     * quote names and tokens from untrusted model files, which must neither break the one-line error nor
     * send escape sequences to the terminal.
     */
    static String printable(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029') {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.toString();
    }

    /** A user error in the options, found after parsing (a missing prompt file, an invalid value). */
    public static final class UsageException extends RuntimeException {
        public UsageException(String message) {
            super(message);
        }
    }

    /** The model path does not lead to a readable file. */
    public static final class BadModelPathException extends RuntimeException {
        public BadModelPathException(String message) {
            super(message);
        }
    }
}
