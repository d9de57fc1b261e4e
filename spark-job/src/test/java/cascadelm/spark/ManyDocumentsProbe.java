package cascadelm.spark;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The whole job in local mode in this JVM, with the heap sampled after GC against the documents done.
 * Run by {@link ManyDocumentsMemoryTest}; arguments: the samples CSV file, then the job's arguments.
 */
public final class ManyDocumentsProbe {
    public static void main(String[] args) throws Exception {
        int code;
        try (HeapSampler sampler = new HeapSampler(1000, LocalProgress.DOCUMENTS::get)) {
            code = CascadeJob.run(Arrays.copyOfRange(args, 1, args.length), new PrintWriter(System.out, true),
                    new PrintWriter(System.err, true));
            sampler.write(Path.of(args[0]));
        }
        System.exit(code);
    }
}
