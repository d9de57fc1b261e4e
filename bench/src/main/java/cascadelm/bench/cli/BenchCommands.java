package cascadelm.bench.cli;

import cascadelm.model.cli.CliExtension;

import java.util.List;

/** Adds {@code eval} and {@code bench} to {@code cascade-lm} (found through META-INF/services). */
public final class BenchCommands implements CliExtension {
    @Override
    public List<Object> commands() {
        return List.of(new EvalCommand(), new BenchCommand());
    }
}
