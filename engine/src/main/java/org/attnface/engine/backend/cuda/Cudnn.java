package org.attnface.engine.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.HashMap;
import java.util.Map;

import org.attnface.engine.backend.ConvShape;

/**
 * cuDNN 9's legacy convolution API through java.lang.foreign (the JCudnn jar on Maven Central
 * stops at cuDNN 8). Each convolution shape gets one {@link Plan}: its descriptors and, per
 * direction, the fastest algorithm found by cudnnFind* (a timed search run once, on first use)
 * with its workspace size. The search falls back to the cudnnGet*_v7 heuristics if it fails.
 */
final class Cudnn {
    static final int TENSOR_NCHW = 0, DATA_FLOAT = 0, CROSS_CORRELATION = 1;
    static final int DEFAULT_MATH = 0, FMA_MATH = 3;
    /** cudnnConvolution*AlgoPerf_t: algo, status, time, (pad), size_t memory, determinism, mathType, reserved[3]: 48 bytes. */
    static final int PERF_BYTES = 48, PERF_COUNT = 8;

    final String library;
    /** The bindings (for the signature test). */
    final Ffm ffm;
    private final MethodHandle create, setStream, errorString, version, createTensor, setTensor4d, createFilter, setFilter4d,
            createConv, setConv2d, setConvMath, cudartVersion, lastError, findFwd, getFwd, wsFwd, convFwd, findBwdData, getBwdData, wsBwdData,
            convBwdData, findBwdFilter, getBwdFilter, wsBwdFilter, convBwdFilter;
    private long handle;  // 0 until createHandle
    private final MemorySegment alphaBeta = Arena.global().allocate(8, 8);
    private final Map<PlanKey, Plan> plans = new HashMap<>();

    /** deterministic: algorithms chosen under CudaBackend.setDeterministic(true) are kept apart from the fastest ones. */
    record PlanKey(ConvShape shape, boolean tf32, boolean deterministic) {}

    /** Descriptors and chosen algorithms of one convolution shape; algo -1 = not chosen yet. */
    static final class Plan {
        long x, w, y, conv;
        int fwdAlgo = -1, bwdDataAlgo = -1, bwdFilterAlgo = -1;
        /** The math type cudnnFind reported with each chosen algorithm, and the one the descriptor holds now. */
        int fwdMath, bwdDataMath, bwdFilterMath, convMath;
        /** TF32 allowed: tensor-op algorithms may be chosen. */
        boolean tf32;
        long fwdBytes, bwdDataBytes, bwdFilterBytes;
        String fwdHow, bwdDataHow, bwdFilterHow;
    }

    /**
     * Binds every cuDNN function we call (fails naming a missing one); no GPU needed until
     * {@link #createHandle}. {@link CudaLibraries} opens the sub-libraries first.
     */
    Cudnn(NativeLibs.Loaded lib) {
        library = lib.file().toString();
        Ffm f = new Ffm(lib);
        ffm = f;
        java.util.function.BiFunction<String, FunctionDescriptor, MethodHandle> bind = f::bind;
        // The timed searches are deprecated in cuDNN 9; without them the heuristics choose.
        java.util.function.BiFunction<String, FunctionDescriptor, MethodHandle> optional = f::optional;
        FunctionDescriptor ptrOut = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        create = bind.apply("cudnnCreate", ptrOut);
        setStream = bind.apply("cudnnSetStream", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
        errorString = bind.apply("cudnnGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        version = bind.apply("cudnnGetVersion", FunctionDescriptor.of(JAVA_LONG));
        cudartVersion = bind.apply("cudnnGetCudartVersion", FunctionDescriptor.of(JAVA_LONG));
        lastError = f.optional("cudnnGetLastErrorString", FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG));
        createTensor = bind.apply("cudnnCreateTensorDescriptor", ptrOut);
        setTensor4d = bind.apply("cudnnSetTensor4dDescriptor", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        createFilter = bind.apply("cudnnCreateFilterDescriptor", ptrOut);
        setFilter4d = bind.apply("cudnnSetFilter4dDescriptor", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        createConv = bind.apply("cudnnCreateConvolutionDescriptor", ptrOut);
        setConv2d = bind.apply("cudnnSetConvolution2dDescriptor", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        setConvMath = bind.apply("cudnnSetConvolutionMathType", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
        // (handle, desc1, desc2, conv, desc3, requested, int* returned, perf*)
        FunctionDescriptor search = FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_INT, ADDRESS, ADDRESS);
        // (handle, desc1, desc2, conv, desc3, algo, size_t*)
        FunctionDescriptor wsSize = FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_INT, ADDRESS);
        // (handle, alpha*, d1, p1, d2, p2, conv, algo, ws, wsBytes, beta*, d3, p3)
        FunctionDescriptor run = FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        findFwd = optional.apply("cudnnFindConvolutionForwardAlgorithm", search);
        getFwd = bind.apply("cudnnGetConvolutionForwardAlgorithm_v7", search);
        wsFwd = bind.apply("cudnnGetConvolutionForwardWorkspaceSize", wsSize);
        convFwd = bind.apply("cudnnConvolutionForward", run);
        findBwdData = optional.apply("cudnnFindConvolutionBackwardDataAlgorithm", search);
        getBwdData = bind.apply("cudnnGetConvolutionBackwardDataAlgorithm_v7", search);
        wsBwdData = bind.apply("cudnnGetConvolutionBackwardDataWorkspaceSize", wsSize);
        convBwdData = bind.apply("cudnnConvolutionBackwardData", run);
        findBwdFilter = optional.apply("cudnnFindConvolutionBackwardFilterAlgorithm", search);
        getBwdFilter = bind.apply("cudnnGetConvolutionBackwardFilterAlgorithm_v7", search);
        wsBwdFilter = bind.apply("cudnnGetConvolutionBackwardFilterWorkspaceSize", wsSize);
        convBwdFilter = bind.apply("cudnnConvolutionBackwardFilter", run);
    }

    /** Creates the handle on {@code stream} (needs the driver and a GPU; fails plainly without). */
    Cudnn createHandle(long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ADDRESS);
            int status = (int) create.invokeExact(h);
            if (status == 1001 /* CUDNN_STATUS_NOT_INITIALIZED */)
                throw new CudaException("cudnnCreate failed: " + errorName(status) + " (" + status + "): cuDNN (" + library
                        + ") found no usable GPU or driver (" + lastError() + ")");
            check("cudnnCreate", status);
            handle = h.get(JAVA_LONG, 0);
            check("cudnnSetStream", (int) setStream.invokeExact(handle, stream));
            return this;
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cuDNN initialisation failed in " + library, t);
        }
    }

    /** cuDNN 9's message for the last failed call in this thread ("" if none or not available). */
    private String lastError() {
        if (lastError == null) return "";
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(1024);
            lastError.invokeExact(buf, 1024L);
            return buf.getString(0);
        } catch (Throwable t) {
            return "";
        }
    }

    /** The CUDA runtime version cuDNN was built with (13030 = CUDA 13.3): its cuBLAS must be of that major version. */
    int cudartVersion() {
        try {
            return (int) (long) cudartVersion.invokeExact();
        } catch (Throwable t) {
            throw new CudaException("cudnnGetCudartVersion", t);
        }
    }

    String version() {
        try {
            long v = (long) version.invokeExact();
            // cuDNN 9 encodes major*10000 + minor*100 + patch
            return (v / 10000) + "." + (v / 100 % 100) + "." + (v % 100);
        } catch (Throwable t) {
            throw new CudaException("cudnnGetVersion", t);
        }
    }

    Plan plan(ConvShape g, boolean tf32) {
        return plans.computeIfAbsent(new PlanKey(g, tf32, CudaBackend.deterministic()), k -> {
            Plan p = new Plan();
            p.tf32 = tf32;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ADDRESS);
                check("cudnnCreateTensorDescriptor", (int) createTensor.invokeExact(out));
                p.x = out.get(JAVA_LONG, 0);
                check("cudnnCreateTensorDescriptor", (int) createTensor.invokeExact(out));
                p.y = out.get(JAVA_LONG, 0);
                check("cudnnCreateFilterDescriptor", (int) createFilter.invokeExact(out));
                p.w = out.get(JAVA_LONG, 0);
                check("cudnnCreateConvolutionDescriptor", (int) createConv.invokeExact(out));
                p.conv = out.get(JAVA_LONG, 0);
                check("cudnnSetTensor4dDescriptor(x " + g + ")", (int) setTensor4d.invokeExact(p.x, TENSOR_NCHW, DATA_FLOAT, g.n(), g.c(), g.h(), g.w()));
                check("cudnnSetTensor4dDescriptor(y " + g + ")", (int) setTensor4d.invokeExact(p.y, TENSOR_NCHW, DATA_FLOAT, g.n(), g.k(), g.p(), g.q()));
                check("cudnnSetFilter4dDescriptor(" + g + ")", (int) setFilter4d.invokeExact(p.w, DATA_FLOAT, TENSOR_NCHW, g.k(), g.c(), g.r(), g.s()));
                check("cudnnSetConvolution2dDescriptor(" + g + ")", (int) setConv2d.invokeExact(p.conv, g.pad(), g.pad(),
                        g.stride(), g.stride(), 1, 1, CROSS_CORRELATION, DATA_FLOAT));
                // DEFAULT_MATH lets cuDNN use TF32 tensor cores for float; FMA_MATH keeps full FP32.
                p.convMath = tf32 ? DEFAULT_MATH : FMA_MATH;
                check("cudnnSetConvolutionMathType", (int) setConvMath.invokeExact(p.conv, p.convMath));
            } catch (CudaException e) {
                throw e;
            } catch (Throwable t) {
                throw new CudaException("cuDNN descriptors for " + g, t);
            }
            return p;
        });
    }

    enum Dir { FORWARD, BACKWARD_DATA, BACKWARD_FILTER }

    /** Chooses the algorithm of one direction (once per plan) and returns its workspace size in bytes. */
    long choose(Plan p, Dir dir, ConvShape g) {
        int algo = switch (dir) { case FORWARD -> p.fwdAlgo; case BACKWARD_DATA -> p.bwdDataAlgo; case BACKWARD_FILTER -> p.bwdFilterAlgo; };
        if (algo >= 0) return switch (dir) { case FORWARD -> p.fwdBytes; case BACKWARD_DATA -> p.bwdDataBytes; case BACKWARD_FILTER -> p.bwdFilterBytes; };
        long d1, d2, d3;
        MethodHandle find, get, ws;
        String name;
        switch (dir) {
            case FORWARD -> { d1 = p.x; d2 = p.w; d3 = p.y; find = findFwd; get = getFwd; ws = wsFwd; name = "Forward"; }
            case BACKWARD_DATA -> { d1 = p.w; d2 = p.y; d3 = p.x; find = findBwdData; get = getBwdData; ws = wsBwdData; name = "BackwardData"; }
            default -> { d1 = p.x; d2 = p.y; d3 = p.w; find = findBwdFilter; get = getBwdFilter; ws = wsBwdFilter; name = "BackwardFilter"; }
        }
        String how;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment count = a.allocate(JAVA_INT);
            MemorySegment perf = a.allocate((long) PERF_BYTES * PERF_COUNT, 8);
            int status = -1, i = -1;
            boolean onlyDeterministic = CudaBackend.deterministic(), tensorOps = p.tf32;
            if (find != null) {
                status = (int) find.invokeExact(handle, d1, d2, p.conv, d3, PERF_COUNT, count, perf);
                if (status == 0) i = pick(count.get(JAVA_INT, 0), perf, tensorOps, onlyDeterministic);
            }
            how = "cudnnFind";
            if (status != 0 || i < 0) {
                check("cudnnGetConvolution" + name + "Algorithm_v7 (" + g + ")", (int) get.invokeExact(handle, d1, d2, p.conv, d3, PERF_COUNT, count, perf));
                i = pick(count.get(JAVA_INT, 0), perf, tensorOps, onlyDeterministic);
                how = find == null ? "heuristic (no cudnnFind in " + library + ")" : "heuristic (cudnnFind status " + status + ")";
            }
            if (i < 0) throw new CudaException("cuDNN offers no " + (onlyDeterministic ? "deterministic " : "")
                    + (tensorOps ? "" : "FMA-math (fp32) ") + name + " algorithm for " + g + "; it offered " + describe(count.get(JAVA_INT, 0), perf));
            algo = perf.get(JAVA_INT, (long) i * PERF_BYTES);
            int math = perf.get(JAVA_INT, (long) i * PERF_BYTES + MATH_OFFSET);
            setMath(p, math);
            MemorySegment bytes = a.allocate(JAVA_LONG);
            check("cudnnGetConvolution" + name + "WorkspaceSize (" + g + ")", (int) ws.invokeExact(handle, d1, d2, p.conv, d3, algo, bytes));
            long b = bytes.get(JAVA_LONG, 0);
            switch (dir) {
                case FORWARD -> { p.fwdAlgo = algo; p.fwdBytes = b; p.fwdHow = how; p.fwdMath = math; }
                case BACKWARD_DATA -> { p.bwdDataAlgo = algo; p.bwdDataBytes = b; p.bwdDataHow = how; p.bwdDataMath = math; }
                case BACKWARD_FILTER -> { p.bwdFilterAlgo = algo; p.bwdFilterBytes = b; p.bwdFilterHow = how; p.bwdFilterMath = math; }
            }
            return b;
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cudnn" + name + " algorithm choice for " + g, t);
        }
    }

    /** Fields of cudnnConvolution*AlgoPerf_t after the 8-byte memory size: determinism at 24, mathType at 28. */
    static final int DETERMINISTIC = 1, DETERMINISM_OFFSET = 24, MATH_OFFSET = 28;

    /**
     * The first (fastest) usable result of a search: status success; in deterministic mode only
     * one cuDNN marks CUDNN_DETERMINISTIC (backward-filter and backward-data algo 0 use atomics,
     * algo 1 does not); without TF32 only FMA math (CUDNN_DEFAULT_MATH lets Ampere and later use
     * TF32 tensor cores for float, so full FP32 means CUDNN_FMA_MATH; PyTorch asserts the same of
     * the algorithm it takes, ASSERT_CORRECT_PRECISION in Conv_v7.cpp). -1 when there is none.
     */
    static int pick(int count, MemorySegment perf, boolean tensorOps, boolean onlyDeterministic) {
        for (int i = 0; i < count && i < PERF_COUNT; i++) {
            long at = (long) i * PERF_BYTES;
            boolean ok = perf.get(JAVA_INT, at + 4) == 0;
            boolean deterministic = perf.get(JAVA_INT, at + DETERMINISM_OFFSET) == DETERMINISTIC;
            boolean fma = perf.get(JAVA_INT, at + MATH_OFFSET) == FMA_MATH;
            if (ok && (deterministic || !onlyDeterministic) && (fma || tensorOps)) return i;
        }
        return -1;
    }

    /** "algo 1 (math 0, status 0), ..." for messages. */
    private static String describe(int count, MemorySegment perf) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < count && i < PERF_COUNT; i++) {
            long at = (long) i * PERF_BYTES;
            if (i > 0) sb.append(", ");
            sb.append("algo ").append(perf.get(JAVA_INT, at)).append(" (math ").append(perf.get(JAVA_INT, at + MATH_OFFSET))
                    .append(", status ").append(perf.get(JAVA_INT, at + 4)).append(", deterministic ")
                    .append(perf.get(JAVA_INT, at + DETERMINISM_OFFSET) == DETERMINISTIC).append(')');
        }
        return count == 0 ? "none" : sb.toString();
    }

    /** Puts the chosen algorithm's math type on the shared convolution descriptor (a host-side call) when it differs. */
    private void setMath(Plan p, int math) throws Throwable {
        if (p.convMath == math) return;
        check("cudnnSetConvolutionMathType(" + math + ")", (int) setConvMath.invokeExact(p.conv, math));
        p.convMath = math;
    }

    /** Runs one direction: FORWARD y = conv(x, w); BACKWARD_DATA dx = conv^T(dy, w); BACKWARD_FILTER dw = corr(x, dy). */
    void run(Plan p, Dir dir, ConvShape g, long in1, long in2, long out, long workspace, long workspaceBytes) {
        run(p, dir, g, in1, in2, out, workspace, workspaceBytes, 0f);
    }

    /** As above with out = result + beta * out (beta 1: accumulate into a gradient buffer). */
    void run(Plan p, Dir dir, ConvShape g, long in1, long in2, long out, long workspace, long workspaceBytes, float betaValue) {
        alphaBeta.set(JAVA_FLOAT, 0, 1f);
        alphaBeta.set(JAVA_FLOAT, 4, betaValue);
        long alpha = alphaBeta.address(), beta = alpha + 4;
        int status;
        String call;
        try {
            setMath(p, switch (dir) { case FORWARD -> p.fwdMath; case BACKWARD_DATA -> p.bwdDataMath; case BACKWARD_FILTER -> p.bwdFilterMath; });
            switch (dir) {
                case FORWARD -> { call = "cudnnConvolutionForward"; status = (int) convFwd.invokeExact(handle, alpha, p.x, in1, p.w, in2, p.conv, p.fwdAlgo, workspace, workspaceBytes, beta, p.y, out); }
                case BACKWARD_DATA -> { call = "cudnnConvolutionBackwardData"; status = (int) convBwdData.invokeExact(handle, alpha, p.w, in2, p.y, in1, p.conv, p.bwdDataAlgo, workspace, workspaceBytes, beta, p.x, out); }
                default -> { call = "cudnnConvolutionBackwardFilter"; status = (int) convBwdFilter.invokeExact(handle, alpha, p.x, in1, p.y, in2, p.conv, p.bwdFilterAlgo, workspace, workspaceBytes, beta, p.w, out); }
            }
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cuDNN " + dir + " " + g, t);
        }
        if (status != 0) check(call + " (" + g + ")", status);
    }

    private void check(String call, int status) {
        if (status == 0) return;
        throw new CudaException(call + " failed: " + errorName(status) + " (" + status + ")");
    }

    private String errorName(int status) {
        try {
            return Ffm.string((MemorySegment) errorString.invokeExact(status));
        } catch (Throwable t) {
            return "status " + status;
        }
    }
}
