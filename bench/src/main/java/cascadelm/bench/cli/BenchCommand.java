package cascadelm.bench.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code cascade-lm bench}: speed measurements of the cache policies. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Speed of the cache policies (prefill time against document length).",
        subcommands = {PrefillCommand.class})
final class BenchCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "bench needs a command ("
                + String.join(", ", spec.commandLine().getSubcommands().keySet()) + ")");
    }
}
