package cascadelm.model.cli;

import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * Option defaults from {@code conf/cascade-lm.properties}: key {@code <command>.<option without dashes>},
 * e.g. {@code generate.max-tokens=256}. A key absent there keeps the default compiled into the option, so
 * the file can be deleted; an option given on the command line always wins. Cache options without a line
 * there take {@code CacheSettings.DEFAULTS}.
 */
final class ConfDefaults implements IDefaultValueProvider {
    private final Properties properties;

    private ConfDefaults(Properties properties) {
        this.properties = properties;
    }

    /** Reads the file when it exists; a malformed file is an error naming it. */
    static ConfDefaults load(Path file) {
        Properties p = new Properties();
        if (file != null && Files.isRegularFile(file)) {
            try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                p.load(r);
            } catch (IOException | IllegalArgumentException e) {
                throw new Main.UsageException("cannot read settings file " + file + ": " + e.getMessage());
            }
        }
        return new ConfDefaults(p);
    }

    @Override
    public String defaultValue(ArgSpec arg) {
        if (!(arg instanceof OptionSpec option) || arg.command() == null) return null;
        String key = arg.command().name() + "." + option.longestName().replaceFirst("^-+", "");
        String value = properties.getProperty(key);
        if (value == null) {
            // The cache settings' built-in defaults live with their definition.
            return cascadelm.model.cache.CacheSettings.DEFAULTS.get(option.longestName().replaceFirst("^-+", ""));
        }
        return value.trim();
    }
}
