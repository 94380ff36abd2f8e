package io.vidkv.nativelib;

/**
 * One matmul primitive: {@code C = alpha * op(A) x op(B) + beta * C}, with op(A) of shape
 * [m, k], op(B) [k, n], C [m, n]. Matrices are row-major with explicit leading dimensions (row
 * pitch in elements) so a tile of a larger matrix is used in place. {@code transposeA} means A is
 * stored as its transpose ([k, m] with pitch {@code lda}); likewise {@code transposeB} ([n, k]
 * with pitch {@code ldb}): attention's {@code Q x K^T} reads K rows directly this way.
 * {@code beta = 0} overwrites C; otherwise C is accumulated (oneDNN sum post-op).
 */
public record MatmulShape(int m, int k, int n, DnnlDataType typeA, DnnlDataType typeB, DnnlDataType typeC,
                          boolean transposeA, boolean transposeB, long lda, long ldb, long ldc,
                          float alpha, float beta) {

    public MatmulShape {
        positive("m", m);
        positive("k", k);
        positive("n", n);
        if (typeA == null || typeB == null || typeC == null) {
            throw new IllegalArgumentException("matmul data types must not be null");
        }
        long minLda = transposeA ? m : k;
        long minLdb = transposeB ? k : n;
        if (lda < minLda) {
            throw new IllegalArgumentException("matmul lda " + lda + " < " + minLda + " for " + (transposeA ? "A^T [k,m]" : "A [m,k]"));
        }
        if (ldb < minLdb) {
            throw new IllegalArgumentException("matmul ldb " + ldb + " < " + minLdb + " for " + (transposeB ? "B^T [n,k]" : "B [k,n]"));
        }
        if (ldc < n) {
            throw new IllegalArgumentException("matmul ldc " + ldc + " < n = " + n);
        }
        // oneDNN 3.8.1 computes a strided vector operand wrongly (measured in DnnlTest): a one-column C
        // whose rows are ldc > 1 apart, or a one-row A stored transposed with lda > 1. Refused here
        // rather than answered wrongly; pass such a product with a dense vector (or two columns).
        if (n == 1 && ldc > 1) {
            throw new IllegalArgumentException("matmul with n = 1 needs ldc = 1 (oneDNN mis-computes a strided one-column C), got ldc " + ldc);
        }
        if (m == 1 && transposeA && lda > 1) {
            throw new IllegalArgumentException("matmul with m = 1 and A^T needs lda = 1 (oneDNN mis-computes a strided one-row A), got lda " + lda);
        }
        if (!Float.isFinite(alpha) || !Float.isFinite(beta)) {
            throw new IllegalArgumentException("matmul alpha and beta must be finite, got " + alpha + ", " + beta);
        }
    }

    /** Dense f32 {@code C = A x B} with natural leading dimensions. */
    public static MatmulShape f32(int m, int k, int n) {
        return of(m, k, n, DnnlDataType.F32, false, false);
    }

    /** Natural leading dimensions, alpha 1, beta 0; A and B of {@code in}, C in f32. */
    public static MatmulShape of(int m, int k, int n, DnnlDataType in, boolean transposeA, boolean transposeB) {
        return new MatmulShape(m, k, n, in, in, DnnlDataType.F32, transposeA, transposeB,
                transposeA ? m : k, transposeB ? k : n, n, 1f, 0f);
    }

    public MatmulShape withScale(float newAlpha, float newBeta) {
        return new MatmulShape(m, k, n, typeA, typeB, typeC, transposeA, transposeB, lda, ldb, ldc, newAlpha, newBeta);
    }

    /** Bytes segment A must hold. */
    public long bytesA() {
        return ((transposeA ? (long) (k - 1) * lda + m : (long) (m - 1) * lda + k)) * typeA.bytes();
    }

    public long bytesB() {
        return ((transposeB ? (long) (n - 1) * ldb + k : (long) (k - 1) * ldb + n)) * typeB.bytes();
    }

    public long bytesC() {
        return ((long) (m - 1) * ldc + n) * typeC.bytes();
    }

    private static void positive(String name, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException("matmul " + name + " must be positive, got " + v);
        }
    }
}
