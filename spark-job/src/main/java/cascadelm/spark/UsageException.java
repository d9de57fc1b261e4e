package cascadelm.spark;

/** A bad option or setting, found before any work: exit code 2, one line. */
final class UsageException extends RuntimeException {
    UsageException(String message) {
        super(message);
    }
}
