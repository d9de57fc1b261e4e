package cascadelm.bench.eval;

import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelConfig;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/** Which model a result came from, precisely enough to find the same file again: path, size, SHA-256, shape. */
public final class ModelIdentity {
    private ModelIdentity() {
    }

    public static Map<String, Object> describe(Path file, LlamaModel model) throws IOException {
        ModelConfig c = model.config();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("path", file.toAbsolutePath().normalize().toString());
        m.put("bytes", Files.size(file));
        m.put("sha256", sha256(file));
        m.put("name", model.file().metadata().string("general.name", ""));
        m.put("architecture", c.architecture());
        m.put("layers", c.layers());
        m.put("dim", c.dim());
        m.put("heads", c.heads());
        m.put("kvHeads", c.kvHeads());
        m.put("headDim", c.headDim());
        m.put("vocabulary", c.vocabularySize());
        m.put("trainedContext", c.contextLength());
        return m;
    }

    public static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 20];
            for (int n; (n = in.read(buffer)) > 0; ) md.update(buffer, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java has SHA-256", e);
        }
    }
}
