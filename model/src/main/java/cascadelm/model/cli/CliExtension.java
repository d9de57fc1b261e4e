package cascadelm.model.cli;

import java.util.List;

/**
 * More {@code cascade-lm} commands from modules that build on the model (the evaluations and benchmarks in
 * {@code bench}), found with {@link java.util.ServiceLoader} so this module needs not know them.
 * Implementations list picocli command objects.
 */
public interface CliExtension {
    List<Object> commands();
}
