package org.attnface.trainer.data;

/**
 * Centre-crops an RGB image to a square and resizes it to size x size by area averaging:
 * each output pixel is the mean of the source area it covers, pixels at the edges weighted
 * by the fraction covered (200 -> 72 is a factor 2.78, where bilinear sampling would alias).
 * Smaller sources are enlarged with the same weights (a box filter).
 */
public final class Resize {
    private Resize() {}

    public static byte[] squareAreaAverage(byte[] rgb, int width, int height, int size) {
        int side = Math.min(width, height);
        int x0 = (width - side) / 2, y0 = (height - side) / 2;
        Weights w = Weights.of(side, size);
        // Horizontal pass: rows [y0, y0+side) x size columns, as floats.
        float[] tmp = new float[side * size * 3];
        for (int y = 0; y < side; y++) {
            int srcRow = ((y0 + y) * width + x0) * 3;
            for (int o = 0; o < size; o++) {
                float r = 0, g = 0, b = 0;
                int first = w.first[o];
                for (int k = 0; k < w.count[o]; k++) {
                    float wt = w.weight[o][k];
                    int s = srcRow + (first + k) * 3;
                    r += wt * (rgb[s] & 0xFF);
                    g += wt * (rgb[s + 1] & 0xFF);
                    b += wt * (rgb[s + 2] & 0xFF);
                }
                int t = (y * size + o) * 3;
                tmp[t] = r;
                tmp[t + 1] = g;
                tmp[t + 2] = b;
            }
        }
        byte[] out = new byte[size * size * 3];
        for (int o = 0; o < size; o++) {
            int first = w.first[o];
            for (int x = 0; x < size; x++) {
                float r = 0, g = 0, b = 0;
                for (int k = 0; k < w.count[o]; k++) {
                    float wt = w.weight[o][k];
                    int t = ((first + k) * size + x) * 3;
                    r += wt * tmp[t];
                    g += wt * tmp[t + 1];
                    b += wt * tmp[t + 2];
                }
                int d = (o * size + x) * 3;
                out[d] = toByte(r);
                out[d + 1] = toByte(g);
                out[d + 2] = toByte(b);
            }
        }
        return out;
    }

    private static byte toByte(float v) {
        return (byte) Math.max(0, Math.min(255, Math.round(v)));
    }

    /** For each output index: the first source index and the normalised overlap weights. */
    private record Weights(int[] first, int[] count, float[][] weight) {
        static Weights of(int src, int dst) {
            int[] first = new int[dst], count = new int[dst];
            float[][] weight = new float[dst][];
            double scale = (double) src / dst;
            for (int o = 0; o < dst; o++) {
                double lo = o * scale, hi = (o + 1) * scale;
                int a = (int) Math.floor(lo), b = Math.min(src, (int) Math.ceil(hi));
                first[o] = a;
                count[o] = b - a;
                weight[o] = new float[b - a];
                for (int s = a; s < b; s++) weight[o][s - a] = (float) ((Math.min(hi, s + 1) - Math.max(lo, s)) / scale);
            }
            return new Weights(first, count, weight);
        }
    }
}
