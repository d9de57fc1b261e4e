package cascadelm.bench.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code cascade-lm eval}: the paper's quality evaluations (cascade-spec §7). */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Quality evaluations of the cache policies (passkey retrieval, streaming perplexity, question answering against distance).",
        subcommands = {PasskeyCommand.class, PerplexityCommand.class, QaCommand.class})
final class EvalCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "eval needs a command ("
                + String.join(", ", spec.commandLine().getSubcommands().keySet()) + ")");
    }
}
