package io.vidkv.testing;

/** Plain float64 implementations that the native and fused kernels are tested against. */
public final class Float64Reference {

    private Float64Reference() {
    }

    /** Forward DFT of a real vector: returns [re0, im0, re1, im1, ...] for bins 0..n/2. */
    public static double[] realDft(double[] x) {
        int n = x.length;
        double[] out = new double[2 * (n / 2 + 1)];
        for (int j = 0; j <= n / 2; j++) {
            double re = 0, im = 0;
            for (int t = 0; t < n; t++) {
                double a = 2 * Math.PI * ((long) j * t % n) / n;
                re += x[t] * Math.cos(a);
                im -= x[t] * Math.sin(a);
            }
            out[2 * j] = re;
            out[2 * j + 1] = im;
        }
        return out;
    }

    /**
     * Unnormalized inverse of a Hermitian spectrum given by its bins 0..n/2 (interleaved re, im),
     * with the imaginary parts of bin 0 and (n even) bin n/2 taken as zero, as FFTW's c2r does.
     */
    public static double[] inverseRealDft(double[] spectrum, int n) {
        double[] x = new double[n];
        for (int t = 0; t < n; t++) {
            double v = spectrum[0];
            for (int j = 1; j <= n / 2; j++) {
                double a = 2 * Math.PI * ((long) j * t % n) / n;
                double re = spectrum[2 * j], im = spectrum[2 * j + 1];
                if (n % 2 == 0 && j == n / 2) {
                    v += re * Math.cos(a);
                } else {
                    v += 2 * (re * Math.cos(a) - im * Math.sin(a));
                }
            }
            x[t] = v;
        }
        return x;
    }

    /** C[m][n] = sum_k A[m][k] B[k][n]. */
    public static double[][] matmul(double[][] a, double[][] b) {
        int m = a.length, k = b.length, n = b[0].length;
        double[][] c = new double[m][n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int t = 0; t < k; t++) {
                    s += a[i][t] * b[t][j];
                }
                c[i][j] = s;
            }
        }
        return c;
    }

    /** Round-to-nearest-even float32 to bfloat16, returned as the float it represents. */
    public static float toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return Float.intBitsToFloat(rounded & 0xFFFF0000);
    }
}
