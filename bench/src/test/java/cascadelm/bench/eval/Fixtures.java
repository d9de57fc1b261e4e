package cascadelm.bench.eval;

import java.nio.file.Files;
import java.nio.file.Path;

/** The model module's reference fixture models, read in place (tests run in the bench module's folder). */
public final class Fixtures {
    private Fixtures() {
    }

    public static Path model(String name) {
        Path p = Path.of("..", "model", "src", "test", "resources", "fixtures", "models", name);
        if (!Files.isRegularFile(p)) throw new IllegalStateException("fixture model missing: " + p.toAbsolutePath());
        return p;
    }
}
