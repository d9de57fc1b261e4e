import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.model.ModelFixtures;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cache.CascadingCache;
import cascadelm.model.cache.KvCache;
import cascadelm.model.generate.Generator;
import cascadelm.model.generate.Sampler;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelSession;
import cascadelm.model.llama.ModelSessions;
import cascadelm.model.llama.Session;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * CPU only: how far decoding's int8 product inputs (Session#roundDecodeActivationsToInt8) move the logits, over the
 * protocol of CudaSessionTest#lockstep (prompt of 40 in chunks of the stride, then 64 greedy tokens of the device
 * reference one at a time), every fixture file with Q8_0 products and every policy. Columns: worst |Δ|/max|logit| of
 * (bf16 rows + int8) against bf16 rows alone, against float32 (while their caches hold the same tokens, as the test
 * checks), and for comparison the Q8_0 file against the F32 file of the same model (both float32 CPU, same
 * document): what the weights' own 8-bit rounding does.
 */
public class Int8Probe {
    static final List<String> POLICIES = List.of("full", "window", "sink", "cascade", "cascade-stride", "cascade-original");

    static CacheSettings settings(String policy) {
        Map<String, String> m = new HashMap<>();
        m.put("cache", policy.startsWith("cascade") ? "cascade" : policy);
        m.put("cache-size", "16");
        m.put("cascades", "2");
        m.put("sinks", policy.equals("window") ? "0" : "4");
        m.put("stride", "8");
        m.put("ema-beta", "0.9");
        if (policy.equals("cascade-stride")) m.put("select", "stride");
        if (policy.equals("cascade-original")) m.put("positions", "original");
        return CacheSettings.from(m);
    }

    static Session open(LlamaModel model, CpuBackend cpu, CacheSettings s, int tokens, boolean bf16, boolean int8) {
        Session session = (Session) ModelSessions.open(model, cpu, s, tokens, s.stride());
        session.roundRowsToBf16(bf16);
        session.roundDecodeActivationsToInt8(int8);
        return session;
    }

    static boolean same(KvCache x, KvCache y, LlamaModel model, CacheSettings s) {
        if (!(x instanceof CascadingCache a) || !(y instanceof CascadingCache b)) return true;
        for (int l = 0; l < model.config().layers(); l++)
            for (int g = 0; g < model.config().kvHeads(); g++)
                for (int c = 0; c < s.cascades(); c++)
                    if (!Arrays.equals(a.heldPositions(l, g, c), b.heldPositions(l, g, c))) return false;
        return true;
    }

    static double rel(float[] a, float[] b) {
        double scale = 0, err = 0;
        for (int j = 0; j < a.length; j++) {
            scale = Math.max(scale, Math.abs(a[j]));
            err = Math.max(err, Math.abs(a[j] - b[j]));
        }
        return err / scale;
    }

    public static void main(String[] args) throws Exception {
        try (CpuBackend cpu = new CpuBackend(2)) {
            for (String name : List.of("llama-spm", "qwen2-bpe", "llama3-bpe")) {
                var manifest = ModelFixtures.manifest(name);
                var variants = manifest.get("variants");
                if (!variants.has("Q8_0")) continue;
                int[] prompt = Arrays.copyOf(ModelFixtures.ints(manifest.get("tokens").get("ids")), 40);
                try (LlamaModel model = LlamaModel.open(ModelFixtures.file(variants.get("Q8_0").get("gguf").asText()));
                     LlamaModel f32 = LlamaModel.open(ModelFixtures.file(variants.get("F32").get("gguf").asText()))) {
                    for (String policy : POLICIES) {
                        CacheSettings s = settings(policy);
                        int[] gen;
                        try (Session ref = open(model, cpu, s, 104, true, true)) {
                            gen = Generator.generate(ref, prompt, Sampler.greedy(), 64, Set.of(), t -> { }).tokens();
                        }
                        int[] doc = Arrays.copyOf(prompt, 104);
                        System.arraycopy(gen, 0, doc, 40, 64);
                        double int8VsBf16 = 0, int8VsF32 = 0, weights = 0, bf16VsF32 = 0;
                        boolean parted = false, partedW = false;
                        try (Session a = open(model, cpu, s, 104, true, true); Session b = open(model, cpu, s, 104, true, false);
                             Session c = open(model, cpu, s, 104, false, false); Session w = open(f32, cpu, s, 104, false, false)) {
                            for (int at = 0; at < doc.length; ) {
                                int n = at < 40 ? Math.min(s.stride(), 40 - at) : 1;
                                float[] la = a.forward(doc, at, n, null).clone(), lb = b.forward(doc, at, n, null).clone();
                                float[] lc = c.forward(doc, at, n, null).clone(), lw = w.forward(doc, at, n, null).clone();
                                at += n;
                                int8VsBf16 = Math.max(int8VsBf16, rel(lb, la));
                                if (!parted) {
                                    int8VsF32 = Math.max(int8VsF32, rel(lc, la));
                                    bf16VsF32 = Math.max(bf16VsF32, rel(lc, lb));
                                    parted = !same(a.cache(), c.cache(), model, s);
                                }
                                if (!partedW) {
                                    weights = Math.max(weights, rel(lw, lc));
                                    partedW = !same(c.cache(), w.cache(), model, s);
                                }
                            }
                        }
                        System.out.printf(Locale.ROOT, "%-10s Q8_0 %-16s int8 vs bf16-rows %.2e | (bf16+int8) vs float32 %.2e"
                                + " (bf16 alone %.2e)%s | Q8_0 vs F32 weights %.2e%s%n", name, policy, int8VsBf16, int8VsF32,
                                bf16VsF32, parted ? " until caches parted" : "", weights, partedW ? " until caches parted" : "");
                    }
                }
            }
        }
    }
}
