package org.attnface.engine.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.HashMap;
import java.util.List;
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
    private final MethodHandle create, setStream, errorString, version, createTensor, setTensor4d, createFilter, setFilter4d,
            createConv, setConv2d, setConvMath, findFwd, getFwd, wsFwd, convFwd, findBwdData, getBwdData, wsBwdData,
            convBwdData, findBwdFilter, getBwdFilter, wsBwdFilter, convBwdFilter;
    private final long handle;
    private final MemorySegment alphaBeta = Arena.global().allocate(8, 8);
    private final Map<PlanKey, Plan> plans = new HashMap<>();

    /** deterministic: algorithms chosen under CudaBackend.setDeterministic(true) are kept apart from the fastest ones. */
    record PlanKey(ConvShape shape, boolean tf32, boolean deterministic) {}

    /** Descriptors and chosen algorithms of one convolution shape; algo -1 = not chosen yet. */
    static final class Plan {
        long x, w, y, conv;
        int fwdAlgo = -1, bwdDataAlgo = -1, bwdFilterAlgo = -1;
        long fwdBytes, bwdDataBytes, bwdFilterBytes;
        String fwdHow, bwdDataHow, bwdFilterHow;
    }

    Cudnn(long stream) {
        NativeLibs.Loaded lib = NativeLibs.open("cuDNN 9", List.of("libcudnn.so.9"),
                // libcudnn.so.9 is a shim that dlopens these by soname on first use; opening them from
                // its own folder first (dependencies before users) means no LD_LIBRARY_PATH is needed.
                // The runtime-compiled engines need NVRTC and may fail to open: the others still serve.
                List.of("libcudnn_graph", "libcudnn_engines_precompiled", "libcudnn_engines_runtime_compiled",
                        "libcudnn_heuristic", "libcudnn_ops", "libcudnn_cnn"));
        library = lib.file().toString();
        Linker linker = Linker.nativeLinker();
        java.util.function.BiFunction<String, FunctionDescriptor, MethodHandle> bind = (name, fd) ->
                linker.downcallHandle(lib.lookup().find(name).orElseThrow(() ->
                        new CudaException(library + " has no symbol " + name)), fd);
        // The timed searches are deprecated in cuDNN 9; without them the heuristics choose.
        java.util.function.BiFunction<String, FunctionDescriptor, MethodHandle> optional = (name, fd) ->
                lib.lookup().find(name).map(sym -> linker.downcallHandle(sym, fd)).orElse(null);
        FunctionDescriptor ptrOut = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        create = bind.apply("cudnnCreate", ptrOut);
        setStream = bind.apply("cudnnSetStream", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
        errorString = bind.apply("cudnnGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        version = bind.apply("cudnnGetVersion", FunctionDescriptor.of(JAVA_LONG));
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
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ADDRESS);
            check("cudnnCreate", (int) create.invokeExact(h));
            handle = h.get(JAVA_LONG, 0);
            check("cudnnSetStream", (int) setStream.invokeExact(handle, stream));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cuDNN initialisation failed in " + library, t);
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
                check("cudnnSetConvolutionMathType", (int) setConvMath.invokeExact(p.conv, tf32 ? DEFAULT_MATH : FMA_MATH));
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
            int status = -1;
            if (find != null) {
                status = (int) find.invokeExact(handle, d1, d2, p.conv, d3, PERF_COUNT, count, perf);
                algo = firstGood(count, perf);
            }
            how = "cudnnFind";
            if (status != 0 || algo < 0) {
                check("cudnnGetConvolution" + name + "Algorithm_v7 (" + g + ")", (int) get.invokeExact(handle, d1, d2, p.conv, d3, PERF_COUNT, count, perf));
                algo = firstGood(count, perf);
                how = find == null ? "heuristic (no cudnnFind in " + library + ")" : "heuristic (cudnnFind status " + status + ")";
            }
            if (algo < 0) throw new CudaException("cuDNN offers no " + (CudaBackend.deterministic() ? "deterministic " : "") + name + " algorithm for " + g);
            MemorySegment bytes = a.allocate(JAVA_LONG);
            check("cudnnGetConvolution" + name + "WorkspaceSize (" + g + ")", (int) ws.invokeExact(handle, d1, d2, p.conv, d3, algo, bytes));
            long b = bytes.get(JAVA_LONG, 0);
            switch (dir) {
                case FORWARD -> { p.fwdAlgo = algo; p.fwdBytes = b; p.fwdHow = how; }
                case BACKWARD_DATA -> { p.bwdDataAlgo = algo; p.bwdDataBytes = b; p.bwdDataHow = how; }
                case BACKWARD_FILTER -> { p.bwdFilterAlgo = algo; p.bwdFilterBytes = b; p.bwdFilterHow = how; }
            }
            return b;
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cudnn" + name + " algorithm choice for " + g, t);
        }
    }

    /** CUDNN_DETERMINISTIC in the perf struct's determinism field (offset 24, after the 8-byte memory size). */
    static final int DETERMINISTIC = 1, DETERMINISM_OFFSET = 24;

    /**
     * The first (fastest) successful algorithm; in deterministic mode only one cuDNN marks
     * CUDNN_DETERMINISTIC (e.g. backward-filter and backward-data algo 0 use atomics, algo 1 does
     * not), or -1 when there is none, which the caller reports naming the direction and shape.
     */
    private static int firstGood(MemorySegment count, MemorySegment perf) {
        boolean onlyDeterministic = CudaBackend.deterministic();
        int n = count.get(JAVA_INT, 0);
        for (int i = 0; i < n && i < PERF_COUNT; i++) {
            int algo = perf.get(JAVA_INT, (long) i * PERF_BYTES), status = perf.get(JAVA_INT, (long) i * PERF_BYTES + 4);
            boolean deterministic = perf.get(JAVA_INT, (long) i * PERF_BYTES + DETERMINISM_OFFSET) == DETERMINISTIC;
            if (status == 0 && (deterministic || !onlyDeterministic)) return algo;
        }
        return -1;
    }

    /** Runs one direction: FORWARD y = conv(x, w); BACKWARD_DATA dx = conv^T(dy, w); BACKWARD_FILTER dw = corr(x, dy). */
    void run(Plan p, Dir dir, ConvShape g, long in1, long in2, long out, long workspace, long workspaceBytes) {
        alphaBeta.set(JAVA_FLOAT, 0, 1f);
        alphaBeta.set(JAVA_FLOAT, 4, 0f);
        long alpha = alphaBeta.address(), beta = alpha + 4;
        int status;
        String call;
        try {
            switch (dir) {
                case FORWARD -> { call = "cudnnConvolutionForward"; status = (int) convFwd.invokeExact(handle, alpha, p.x, in1, p.w, in2, p.conv, p.fwdAlgo, workspace, workspaceBytes, beta, p.y, out); }
                case BACKWARD_DATA -> { call = "cudnnConvolutionBackwardData"; status = (int) convBwdData.invokeExact(handle, alpha, p.w, in2, p.y, in1, p.conv, p.bwdDataAlgo, workspace, workspaceBytes, beta, p.x, out); }
                default -> { call = "cudnnConvolutionBackwardFilter"; status = (int) convBwdFilter.invokeExact(handle, alpha, p.x, in1, p.y, in2, p.conv, p.bwdFilterAlgo, workspace, workspaceBytes, beta, p.w, out); }
            }
        } catch (Throwable t) {
            throw new CudaException("cuDNN " + dir + " " + g, t);
        }
        if (status != 0) check(call + " (" + g + ")", status);
    }

    private void check(String call, int status) {
        if (status == 0) return;
        String name;
        try {
            MemorySegment s = (MemorySegment) errorString.invokeExact(status);
            name = s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            name = "status " + status;
        }
        throw new CudaException(call + " failed: " + name + " (" + status + ")");
    }
}
