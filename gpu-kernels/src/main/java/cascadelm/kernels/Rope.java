package cascadelm.kernels;

/**
 * Rotary position embedding settings: the inverse frequency of each rotated pair and how pairs are laid
 * out in a head ({@code neox}: element i pairs with i + dim/2, as in GPT-NeoX and Qwen2; otherwise
 * element 2i pairs with 2i+1, as in the original Llama GGUF layout).
 *
 * @param rotaryDims how many leading dimensions of each head are rotated (the head dimension in Llama)
 * @param inverseFrequencies {@code rotaryDims / 2} values, already scaled (Llama 3 scaling included)
 */
public record Rope(int rotaryDims, float[] inverseFrequencies, boolean neox) {
    public Rope {
        if (rotaryDims <= 0 || rotaryDims % 2 != 0 || inverseFrequencies.length != rotaryDims / 2) {
            throw new IllegalArgumentException("rope needs an even rotary dimension and one frequency per pair");
        }
    }

    /** Plain frequencies {@code theta^(-2i/d)}. */
    public static Rope standard(int rotaryDims, double theta, boolean neox) {
        float[] f = new float[rotaryDims / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) Math.pow(theta, -2.0 * i / rotaryDims);
        }
        return new Rope(rotaryDims, f, neox);
    }

    /**
     * Llama 3.1 frequency scaling: long wavelengths are divided by {@code factor}, short ones kept, and
     * the band between is interpolated smoothly (as in Meta's reference and Hugging Face's "llama3" rope).
     */
    public static Rope llama3(int rotaryDims, double theta, boolean neox, double factor, double lowFreqFactor,
                              double highFreqFactor, int originalContext) {
        Rope base = standard(rotaryDims, theta, neox);
        float[] f = base.inverseFrequencies.clone();
        double lowFreqWavelen = originalContext / lowFreqFactor;
        double highFreqWavelen = originalContext / highFreqFactor;
        for (int i = 0; i < f.length; i++) {
            double freq = Math.pow(theta, -2.0 * i / rotaryDims);
            double wavelen = 2 * Math.PI / freq;
            double scaled;
            if (wavelen < highFreqWavelen) {
                scaled = freq;
            } else if (wavelen > lowFreqWavelen) {
                scaled = freq / factor;
            } else {
                double smooth = (originalContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                scaled = (1 - smooth) * freq / factor + smooth * freq;
            }
            f[i] = (float) scaled;
        }
        return new Rope(rotaryDims, f, neox);
    }
}
