package cascadelm.model.cuda;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.cuda.CudaBackend;
import cascadelm.kernels.cuda.DeviceBuffer;
import cascadelm.kernels.cuda.DeviceMatrix;
import cascadelm.model.llama.LayerWeights;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelConfig;
import cascadelm.model.llama.ModelWeights;

import java.util.ArrayList;
import java.util.List;

/**
 * A model's weights on one device, uploaded once and shared by every CUDA session of that model on that
 * backend ({@link CudaBackend#resident}). Matrices keep their file encoding (decode reads the fewest bytes);
 * Wq|Wk|Wv and Wgate|Wup are stacked so each is one product. Quantised matrices also get a float16 copy
 * for the prefill GEMMs when all copies fit in half the free memory (prefill is bound by tensor-core math,
 * and dequantising per chunk would add three bytes of traffic per weight per chunk); otherwise prefill
 * dequantises each matrix into scratch as it goes.
 */
final class DeviceModel implements AutoCloseable {
    record Layer(DeviceBuffer attentionNorm, StackedLinear qkv, DeviceBuffer qkvBias, DeviceMatrix wo,
                 DeviceBuffer ffnNorm, StackedLinear gateUp, DeviceMatrix down) {
    }

    final List<Layer> layers = new ArrayList<>();
    final DeviceMatrix embedding, output;
    final DeviceBuffer outputNorm, ropeFreqs;
    final boolean halfCopies;
    private final List<AutoCloseable> owned = new ArrayList<>();

    static DeviceModel of(CudaBackend backend, LlamaModel model) {
        return backend.resident(model, () -> new DeviceModel(backend, model));
    }

    private DeviceModel(CudaBackend backend, LlamaModel model) {
        var device = backend.device();
        ModelConfig c = model.config();
        ModelWeights w = model.weights();
        try {
            for (LayerWeights lw : w.layers()) {
                StackedLinear qkv = own(new StackedLinear(backend, List.of(lw.wq(), lw.wk(), lw.wv())));
                DeviceBuffer bias = null;
                if (lw.bq() != null || lw.bk() != null || lw.bv() != null) {
                    float[] b = new float[c.qDim() + 2 * c.kvDim()];
                    if (lw.bq() != null) System.arraycopy(lw.bq(), 0, b, 0, c.qDim());
                    if (lw.bk() != null) System.arraycopy(lw.bk(), 0, b, c.qDim(), c.kvDim());
                    if (lw.bv() != null) System.arraycopy(lw.bv(), 0, b, c.qDim() + c.kvDim(), c.kvDim());
                    bias = own(device.uploadNew(b));
                }
                layers.add(new Layer(own(device.uploadNew(lw.attentionNorm())), qkv, bias, own(DeviceMatrix.upload(device, lw.wo())),
                        own(device.uploadNew(lw.ffnNorm())), own(new StackedLinear(backend, List.of(lw.gate(), lw.up()))),
                        own(DeviceMatrix.upload(device, lw.down()))));
            }
            embedding = own(DeviceMatrix.upload(device, w.tokenEmbedding()));
            output = w.output() == w.tokenEmbedding() ? embedding : own(DeviceMatrix.upload(device, w.output()));
            outputNorm = own(device.uploadNew(w.outputNorm()));
            ropeFreqs = own(device.uploadNew(w.rope().inverseFrequencies()));
            halfCopies = keepHalfCopies(backend);
            device.synchronize();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private boolean keepHalfCopies(CudaBackend backend) {
        List<DeviceMatrix> all = new ArrayList<>();
        for (Layer l : layers) {
            all.addAll(l.qkv().parts());
            all.add(l.wo());
            all.addAll(l.gateUp().parts());
            all.add(l.down());
        }
        all.add(output);
        long need = 0;
        for (DeviceMatrix m : all) {
            if (!m.gemmReady()) need += 2L * m.rows() * m.cols();
        }
        if (need == 0) return false;
        if (need > backend.device().memoryInfo()[0] / 2) return false;
        for (DeviceMatrix m : all) m.keepHalfCopy(backend.kernels());
        return true;
    }

    private <T extends AutoCloseable> T own(T t) {
        owned.add(t);
        return t;
    }

    long bytes() {
        long b = 0;
        for (AutoCloseable o : owned) {
            if (o instanceof DeviceMatrix m) b += m.bytes();
            if (o instanceof DeviceBuffer d) b += d.bytes();
            if (o instanceof StackedLinear s) for (DeviceMatrix m : s.parts()) b += m.bytes();
        }
        return b;
    }

    @Override
    public void close() {
        for (AutoCloseable o : owned) {
            try {
                o.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        owned.clear();
    }
}
