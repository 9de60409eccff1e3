package org.attnface.engine.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * cuBLAS through java.lang.foreign (JCublas 12.6 links libcublas.so.12 with versioned symbols
 * and cannot load on CUDA 13). Device pointers and handles travel as 64-bit integers, which the
 * x86-64 calling convention passes exactly like pointers. Row-major products are computed as
 * the column-major product of the transposes: C^T = op(B)^T op(A)^T.
 */
final class Cublas {
    static final int OP_N = 0, OP_T = 1;
    static final int DEFAULT_MATH = 0, TF32_TENSOR_OP_MATH = 3;

    final String library;
    /** The bindings (for the signature test). */
    final Ffm ffm;
    private final MethodHandle create, setStream, setMathMode, sgemm, sgemmStridedBatched, statusName, getVersion;
    private long handle;  // 0 until createHandle (cublasGetVersion_v2 accepts 0)
    /** Host memory for alpha and beta (pointer mode host): cuBLAS reads them before the call returns. */
    private final MemorySegment alphaBeta = Arena.global().allocate(8, 8);
    private int mathMode = -1;

    /** Binds every cuBLAS function we call (fails naming a missing one); no GPU needed until {@link #createHandle}. */
    Cublas(NativeLibs.Loaded lib) {
        library = lib.file().toString();
        Ffm f = new Ffm(lib);
        ffm = f;
        create = f.bind("cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        setStream = f.bind("cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
        setMathMode = f.bind("cublasSetMathMode", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
        statusName = f.optional("cublasGetStatusName", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        getVersion = f.bind("cublasGetVersion_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
        sgemm = f.bind("cublasSgemm_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
        sgemmStridedBatched = f.bind("cublasSgemmStridedBatched", FunctionDescriptor.of(JAVA_INT, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG,
                JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    }

    /** Creates the handle on {@code stream} (needs the driver and a GPU; fails plainly without). */
    Cublas createHandle(long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ADDRESS);
            int status = (int) create.invokeExact(h);
            if (status == 1 /* CUBLAS_STATUS_NOT_INITIALIZED */)
                throw new CudaException("cublasCreate_v2 failed: " + statusName(status) + " (" + status + "): cuBLAS ("
                        + library + ") found no usable GPU or driver");
            check("cublasCreate_v2", status);
            handle = h.get(JAVA_LONG, 0);
            check("cublasSetStream_v2", (int) setStream.invokeExact(handle, stream));
            return this;
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cuBLAS initialisation failed in " + library, t);
        }
    }

    String version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cublasGetVersion_v2", (int) getVersion.invokeExact(handle, v));
            int n = v.get(JAVA_INT, 0);
            return (n / 10000) + "." + (n / 100 % 100) + "." + (n % 100);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cublasGetVersion_v2", t);
        }
    }

    /** TF32 tensor cores for float GEMMs (about 8x the FP32 rate on Hopper, 10-bit mantissa inputs) or plain FP32. */
    void setTf32(boolean tf32) {
        int mode = tf32 ? TF32_TENSOR_OP_MATH : DEFAULT_MATH;
        if (mode == mathMode) return;
        try {
            check("cublasSetMathMode", (int) setMathMode.invokeExact(handle, mode));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cublasSetMathMode", t);
        }
        mathMode = mode;
    }

    /**
     * The column-major cublasSgemm arguments of a row-major product: C^T[n,m] = op(B)^T op(A)^T,
     * so cuBLAS's first operand is our B. A row-major [r,c] array is a column-major [c,r] one
     * with leading dimension c. cuBLAS wants every leading dimension >= 1, also for empty products.
     */
    record ColumnMajorCall(int transa, int transb, int m, int n, int k, int lda, int ldb, int ldc) {
        static ColumnMajorCall of(boolean transA, boolean transB, int m, int n, int k) {
            return new ColumnMajorCall(transB ? OP_T : OP_N, transA ? OP_T : OP_N, n, m, k,
                    Math.max(1, transB ? k : n), Math.max(1, transA ? m : k), Math.max(1, n));
        }
    }

    /** Row-major C[m,n] = alpha op(A) op(B) + beta C on device addresses. */
    void gemmRowMajor(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, long b, float beta, long c) {
        ColumnMajorCall g = ColumnMajorCall.of(transA, transB, m, n, k);
        alphaBeta.set(JAVA_FLOAT, 0, alpha);
        alphaBeta.set(JAVA_FLOAT, 4, beta);
        long ab = alphaBeta.address();
        int status;
        try {
            status = (int) sgemm.invokeExact(handle, g.transa(), g.transb(), g.m(), g.n(), g.k(),
                    ab, b, g.lda(), a, g.ldb(), ab + 4, c, g.ldc());
        } catch (Throwable t) {
            throw new CudaException("cublasSgemm_v2", t);
        }
        if (status != 0) check("cublasSgemm_v2 (row-major m=" + m + " n=" + n + " k=" + k + ", transA=" + transA + ", transB=" + transB + ")", status);
    }

    /** batch independent row-major products; A, B, C of batch i start strideA/B/C floats after those of i-1. */
    void gemmStridedBatchedRowMajor(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, long strideA,
                                    long b, long strideB, float beta, long c, long strideC, int batch) {
        ColumnMajorCall g = ColumnMajorCall.of(transA, transB, m, n, k);
        alphaBeta.set(JAVA_FLOAT, 0, alpha);
        alphaBeta.set(JAVA_FLOAT, 4, beta);
        long ab = alphaBeta.address();
        int status;
        try {
            status = (int) sgemmStridedBatched.invokeExact(handle, g.transa(), g.transb(), g.m(), g.n(), g.k(),
                    ab, b, g.lda(), strideB, a, g.ldb(), strideA, ab + 4, c, g.ldc(), strideC, batch);
        } catch (Throwable t) {
            throw new CudaException("cublasSgemmStridedBatched", t);
        }
        if (status != 0) check("cublasSgemmStridedBatched (m=" + m + " n=" + n + " k=" + k + " batch=" + batch + ")", status);
    }

    private void check(String call, int status) {
        if (status == 0) return;
        throw new CudaException(call + " failed: " + statusName(status) + " (" + status + ")");
    }

    private String statusName(int status) {
        try {
            if (statusName == null) return "status " + status;
            return Ffm.string((MemorySegment) statusName.invokeExact(status));
        } catch (Throwable t) {
            return "status " + status;
        }
    }
}
