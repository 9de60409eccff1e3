package org.attnface.engine.dist;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.attnface.engine.backend.cuda.NativeLibs;

/**
 * NVIDIA NCCL (libnccl.so.2, from the nvidia-nccl-cu13 wheel or a CUDA install) through
 * java.lang.foreign: one communicator over the job's GPU ranks, its unique id made by rank 0 and
 * broadcast over MPI (the way PyTorch and Horovod start NCCL), and an in-place float sum on the
 * compute stream, so the all-reduce is ordered after the backward kernels that made the gradient
 * and before the optimiser's, with no host wait. Found by the CUDA libraries' search
 * ({@link NativeLibs}: ATTNFACE_CUDA_LIBS, LD_LIBRARY_PATH, CUDA folders, Python wheels).
 *
 * <p>Not yet run on a GPU: what runs without one is tested (the library is found, every symbol
 * binds, ncclGetVersion, and a communicator on a machine without a GPU fails with NCCL's reason).
 */
public final class Nccl {
    static final int FLOAT32 = 7, SUM = 0;   // ncclFloat32, ncclSum in nccl.h
    static final int UNIQUE_ID_BYTES = 128;   // NCCL_UNIQUE_ID_BYTES
    static final MemoryLayout UNIQUE_ID = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(UNIQUE_ID_BYTES, JAVA_BYTE));

    /** Every function bound, with its C signature's shape. */
    static final Map<String, FunctionDescriptor> FUNCTIONS = functions();

    public final String library;
    private final Map<String, MethodHandle> fn = new LinkedHashMap<>();

    private static Map<String, FunctionDescriptor> functions() {
        Map<String, FunctionDescriptor> m = new LinkedHashMap<>();
        m.put("ncclGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        m.put("ncclGetUniqueId", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        // ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId (128 bytes by value), int rank)
        m.put("ncclCommInitRank", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, UNIQUE_ID, JAVA_INT));
        // ncclAllReduce(sendbuff, recvbuff, size_t count, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t)
        m.put("ncclAllReduce", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG));
        m.put("ncclBroadcast", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG));
        m.put("ncclGroupStart", FunctionDescriptor.of(JAVA_INT));
        m.put("ncclGroupEnd", FunctionDescriptor.of(JAVA_INT));
        m.put("ncclCommCount", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        m.put("ncclCommUserRank", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        m.put("ncclCommGetAsyncError", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        m.put("ncclCommAbort", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        m.put("ncclCommDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        m.put("ncclGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        m.put("ncclGetLastError", FunctionDescriptor.of(ADDRESS, ADDRESS));
        return java.util.Collections.unmodifiableMap(m);
    }

    private Nccl(String library, SymbolLookup lib) {
        this.library = library;
        Linker linker = Linker.nativeLinker();
        for (Map.Entry<String, FunctionDescriptor> e : FUNCTIONS.entrySet()) {
            MemorySegment sym = lib.find(e.getKey()).orElseThrow(() -> new DistException(library + " has no symbol " + e.getKey()
                    + ": attnface binds NCCL 2.x"));
            fn.put(e.getKey(), linker.downcallHandle(sym, e.getValue()));
        }
    }

    /** Loads libnccl.so.2; a missing library is an error listing every folder searched. */
    public static Nccl load() {
        try {
            NativeLibs.Loaded lib = NativeLibs.open("NCCL", List.of("libnccl.so.2"), List.of());
            return new Nccl(lib.file().toString(), lib.lookup());
        } catch (org.attnface.engine.backend.cuda.CudaException e) {
            throw new DistException(e.getMessage() + "\n(NCCL ships as the Python wheel nvidia-nccl-cu13: pip install nvidia-nccl-cu13)", e);
        }
    }

    /** NCCL's version as major.minor.patch (ncclGetVersion gives major * 10000 + minor * 100 + patch since 2.9). */
    public String version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("ncclGetVersion", (int) fn.get("ncclGetVersion").invokeExact(v));
            int code = v.get(JAVA_INT, 0);
            return code / 10000 + "." + code / 100 % 100 + "." + code % 100;
        } catch (Throwable t) { throw wrap("ncclGetVersion", t); }
    }

    /** A communicator of this job's ranks, one GPU each (the current CUDA device): rank 0's unique id travels over MPI. */
    public Comm communicator(World world) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment id = a.allocate(UNIQUE_ID);
            if (world.isRoot()) check("ncclGetUniqueId", (int) fn.get("ncclGetUniqueId").invokeExact(id));
            byte[] shared = world.broadcast(world.isRoot() ? id.toArray(JAVA_BYTE) : new byte[0], "the NCCL unique id");
            MemorySegment.copy(shared, 0, id, JAVA_BYTE, 0, UNIQUE_ID_BYTES);
            MemorySegment out = a.allocate(ADDRESS);
            int rc = (int) fn.get("ncclCommInitRank").invokeExact(out, world.size(), id, world.rank());
            if (rc != 0)
                throw new DistException("NCCL could not make a communicator for " + world.describe() + ": " + errorString(rc) + lastError()
                        + " (NCCL needs one GPU per rank and its CUDA driver; CPU ranks reduce over MPI)");
            return new Comm(out.get(ADDRESS, 0));
        } catch (DistException e) {
            throw e;
        } catch (Throwable t) { throw wrap("ncclCommInitRank", t); }
    }

    /** An NCCL communicator. */
    public final class Comm implements AutoCloseable {
        private final MemorySegment comm;

        Comm(MemorySegment comm) { this.comm = comm; }

        /** Sums {@code count} floats at device address {@code buf} over the ranks, in place, queued on {@code stream}. */
        public void sumInPlace(long buf, long count, long stream) {
            try {
                check("ncclAllReduce", (int) fn.get("ncclAllReduce").invokeExact(buf, buf, count, FLOAT32, SUM, comm, stream));
            } catch (Throwable t) { throw wrap("ncclAllReduce", t); }
        }

        @Override public void close() {
            try {
                int ignored = (int) fn.get("ncclCommDestroy").invokeExact(comm);
            } catch (Throwable t) {
                // closing at exit: nothing left to report to
            }
        }
    }

    String errorString(int rc) {
        try {
            MemorySegment s = (MemorySegment) fn.get("ncclGetErrorString").invokeExact(rc);
            return s.address() == 0 ? "error " + rc : s.reinterpret(1024).getString(0, StandardCharsets.UTF_8) + " (ncclResult " + rc + ")";
        } catch (Throwable t) {
            return "error " + rc;
        }
    }

    private String lastError() {
        try {
            MemorySegment s = (MemorySegment) fn.get("ncclGetLastError").invokeExact(MemorySegment.NULL);
            String text = s.address() == 0 ? "" : s.reinterpret(4096).getString(0, StandardCharsets.UTF_8).trim();
            return text.isEmpty() ? "" : ": " + text;
        } catch (Throwable t) {
            return "";
        }
    }

    private void check(String call, int rc) {
        if (rc != 0) throw new DistException(call + " failed: " + errorString(rc) + lastError());
    }

    private static RuntimeException wrap(String call, Throwable t) {
        if (t instanceof DistException d) return d;
        return new DistException(call + " failed: " + t, t);
    }
}
