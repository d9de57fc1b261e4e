package cascadelm.spark.io;

import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The .txt and .md files of a corpus folder, searched recursively, each with its doc_id (the path relative
 * to the folder, with '/'). Hidden files and folders (a name starting with '.') are left out. On the local
 * file system the folder is walked with java.nio rather than Hadoop's listing, which silently leaves out a
 * broken link and lists a named pipe as an empty file: here every such entry is listed, and reading it
 * gives its document's error rows instead of a lost document or a read that never returns.
 */
final class TextFolder {
    private TextFolder() {
    }

    static List<CorpusReader.TextFile> list(FileSystem fs, Path root) {
        try {
            return "file".equals(root.toUri().getScheme()) ? local(root) : hadoop(fs, root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
        }
    }

    static boolean isText(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".txt") || n.endsWith(".md");
    }

    private static List<CorpusReader.TextFile> local(Path root) throws IOException {
        java.nio.file.Path base = java.nio.file.Path.of(root.toUri());
        List<CorpusReader.TextFile> files = new ArrayList<>();
        Files.walkFileTree(base, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(java.nio.file.Path dir, BasicFileAttributes attrs) {
                return !dir.equals(base) && hidden(dir) ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(java.nio.file.Path file, BasicFileAttributes attrs) {
                // Links are not followed while walking (no cycles); a link to a file is read through the link.
                if (!hidden(file) && isText(file.getFileName().toString()) && !Files.isDirectory(file)) {
                    files.add(new CorpusReader.TextFile(docId(base, file), file.toUri().toString(), null));
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(java.nio.file.Path file, IOException e) {
                // An unreadable folder: its files cannot be named, so the folder itself gets the error row.
                if (!hidden(file)) {
                    files.add(new CorpusReader.TextFile(docId(base, file), file.toUri().toString(),
                            "cannot list or read this entry: " + e.getClass().getSimpleName()));
                }
                return FileVisitResult.CONTINUE;
            }
        });
        files.sort(java.util.Comparator.comparing(CorpusReader.TextFile::docId));
        return files;
    }

    private static List<CorpusReader.TextFile> hadoop(FileSystem fs, Path root) throws IOException {
        String base = root.toUri().getPath();
        String prefix = base.endsWith("/") ? base : base + "/";
        List<CorpusReader.TextFile> files = new ArrayList<>();
        RemoteIterator<LocatedFileStatus> it = fs.listFiles(root, true);
        while (it.hasNext()) {
            LocatedFileStatus s = it.next();
            String path = s.getPath().toUri().getPath();
            String relative = path.startsWith(prefix) ? path.substring(prefix.length()) : s.getPath().getName();
            if (!isText(s.getPath().getName()) || relative.startsWith(".") || relative.contains("/.")) continue;
            files.add(new CorpusReader.TextFile(relative, s.getPath().toString(), null));
        }
        files.sort(java.util.Comparator.comparing(CorpusReader.TextFile::docId));
        return files;
    }

    private static boolean hidden(java.nio.file.Path p) {
        return p.getFileName() != null && p.getFileName().toString().startsWith(".");
    }

    private static String docId(java.nio.file.Path base, java.nio.file.Path file) {
        return base.relativize(file).toString().replace(java.io.File.separatorChar, '/');
    }
}
