package cascadelm.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A shared library opened through the FFM API (dlopen by name or path) and its functions bound as method
 * handles. Libraries stay open for the life of the JVM (global arena): the driver cannot be unloaded safely.
 */
final class NativeLibrary {
    private static final Linker LINKER = Linker.nativeLinker();

    private final String name;
    private final SymbolLookup lookup;

    private NativeLibrary(String name, SymbolLookup lookup) {
        this.name = name;
        this.lookup = lookup;
    }

    String name() {
        return name;
    }

    /**
     * Opens the first of {@code candidates} that loads: a plain name goes through the dynamic loader's
     * search path, anything with a '/' is a file path. Throws with every attempt's reason when none loads.
     */
    static NativeLibrary open(List<String> candidates) {
        List<String> failures = new ArrayList<>();
        for (String c : candidates) {
            try {
                SymbolLookup l = c.contains("/")
                        ? SymbolLookup.libraryLookup(Path.of(c), Arena.global())
                        : SymbolLookup.libraryLookup(c, Arena.global());
                return new NativeLibrary(c, l);
            } catch (IllegalArgumentException | IllegalCallerException e) {
                failures.add(c + ": " + e.getMessage());
            }
        }
        throw new LibraryNotFoundException(String.join("; ", failures));
    }

    /** Opens {@code path} only if the file exists (so a missing optional helper library is not an error). */
    static void preloadIfPresent(Path path) {
        if (Files.isRegularFile(path)) {
            try {
                SymbolLookup.libraryLookup(path, Arena.global());
            } catch (IllegalArgumentException ignored) {
                // The main library's own load reports the real problem, if there is one.
            }
        }
    }

    MethodHandle function(String symbol, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(lookup.find(symbol).orElseThrow(
                () -> new LibraryNotFoundException(name + " has no function " + symbol + " (too old a version?)")), descriptor);
    }

    /** As {@link #function}, or null when the library lacks it (a feature of newer versions only). */
    MethodHandle optionalFunction(String symbol, FunctionDescriptor descriptor) {
        return lookup.find(symbol).map(f -> LINKER.downcallHandle(f, descriptor)).orElse(null);
    }

    /** No candidate library could be opened, or it lacks a function we need. */
    static final class LibraryNotFoundException extends RuntimeException {
        LibraryNotFoundException(String message) {
            super(message);
        }
    }
}
