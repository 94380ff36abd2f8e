package io.vidkv.bench;

/**
 * A plain-Java real DFT for the FFTW comparison only: mixed radix (2 and 3) recursive complex FFT on
 * the real input, bins 0..n/2 kept, twiddles precomputed. Not used by the library.
 */
final class PlainJavaFft {

    private final int n;
    private final double[] cos;
    private final double[] sin;
    private final double[] re;
    private final double[] im;
    private final double[] tre;
    private final double[] tim;

    PlainJavaFft(int n) {
        this.n = n;
        cos = new double[n];
        sin = new double[n];
        for (int k = 0; k < n; k++) {
            cos[k] = Math.cos(2 * Math.PI * k / n);
            sin[k] = -Math.sin(2 * Math.PI * k / n);
        }
        re = new double[n];
        im = new double[n];
        tre = new double[n];
        tim = new double[n];
    }

    void realForward(float[] x, int off, float[] out, int outOff) {
        for (int i = 0; i < n; i++) {
            re[i] = x[off + i];
            im[i] = 0;
        }
        fft(0, n, 1);
        for (int k = 0; k <= n / 2; k++) {
            out[outOff + 2 * k] = (float) re[k];
            out[outOff + 2 * k + 1] = (float) im[k];
        }
    }

    /** In-place decimation in time over re/im[start + i * stride], i < len. */
    private void fft(int start, int len, int stride) {
        if (len == 1) {
            return;
        }
        int radix = len % 2 == 0 ? 2 : 3;
        int m = len / radix;
        for (int r = 0; r < radix; r++) {
            fft(start + r * stride, m, stride * radix);
        }
        for (int i = 0; i < len; i++) {
            tre[i] = re[start + i * stride];
            tim[i] = im[start + i * stride];
        }
        for (int k = 0; k < len; k++) {
            double sr = 0, si = 0;
            int j = k % m;
            for (int r = 0; r < radix; r++) {
                int tw = (int) ((long) r * k * (n / len) % n);
                double ar = tre[r + j * radix], ai = tim[r + j * radix];
                sr += ar * cos[tw] - ai * sin[tw];
                si += ar * sin[tw] + ai * cos[tw];
            }
            re[start + k * stride] = sr;
            im[start + k * stride] = si;
        }
    }
}
