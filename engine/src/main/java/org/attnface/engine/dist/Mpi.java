package org.attnface.engine.dist;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Open MPI's C API (libmpi.so.40, Open MPI 4.x) through java.lang.foreign. Open MPI's handles
 * (MPI_Comm, MPI_Datatype, MPI_Op, MPI_Request) are pointers, and the predefined ones are the
 * addresses of global symbols (MPI_COMM_WORLD is &amp;ompi_mpi_comm_world, MPI_FLOAT
 * &amp;ompi_mpi_float, MPI_SUM &amp;ompi_mpi_op_sum), which the symbol lookup finds. MPICH-family
 * libraries (libmpi.so.12) use integer handles and are not bound here.
 *
 * <p>Every call is made from the one thread that called {@link #initThread} (MPI_THREAD_FUNNELED):
 * the training thread. Errors return (MPI_ERRORS_RETURN on the world communicator) and become a
 * {@link DistException} naming the call and Open MPI's error string.
 */
final class Mpi {
    static final int THREAD_FUNNELED = 1;
    static final int COMM_TYPE_SHARED = 0;
    /** MPI_IN_PLACE is (void *) 1 in Open MPI's mpi.h. */
    static final MemorySegment IN_PLACE = MemorySegment.ofAddress(1);

    final String library;
    final MemorySegment commWorld, floatType, doubleType, byteType, intType, longType, opSum, opMax, opMin;
    private final MethodHandle initialized, finalized, initThread, finalize, commRank, commSize, commSplitType, commFree,
            allreduce, iallreduce, ibarrier, ibcast, iallgather, test, abort, errorString, processorName, setErrhandler;
    private final MemorySegment errorsReturn, infoNull;
    private final Arena arena = Arena.ofAuto();
    private final MemorySegment intOut = Arena.global().allocate(JAVA_INT);

    private Mpi(String library, SymbolLookup lib) {
        this.library = library;
        Linker linker = Linker.nativeLinker();
        java.util.function.BiFunction<String, FunctionDescriptor, MethodHandle> bind = (name, fd) ->
                linker.downcallHandle(symbol(lib, name), fd);
        commWorld = symbol(lib, "ompi_mpi_comm_world");
        floatType = symbol(lib, "ompi_mpi_float");
        doubleType = symbol(lib, "ompi_mpi_double");
        byteType = symbol(lib, "ompi_mpi_byte");
        intType = symbol(lib, "ompi_mpi_int");
        longType = symbol(lib, "ompi_mpi_long");
        opSum = symbol(lib, "ompi_mpi_op_sum");
        opMax = symbol(lib, "ompi_mpi_op_max");
        opMin = symbol(lib, "ompi_mpi_op_min");
        errorsReturn = symbol(lib, "ompi_mpi_errors_return");
        infoNull = symbol(lib, "ompi_mpi_info_null");
        initialized = bind.apply("MPI_Initialized", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        finalized = bind.apply("MPI_Finalized", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        initThread = bind.apply("MPI_Init_thread", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
        finalize = bind.apply("MPI_Finalize", FunctionDescriptor.of(JAVA_INT));
        commRank = bind.apply("MPI_Comm_rank", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        commSize = bind.apply("MPI_Comm_size", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        commSplitType = bind.apply("MPI_Comm_split_type", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        commFree = bind.apply("MPI_Comm_free", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        allreduce = bind.apply("MPI_Allreduce", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        iallreduce = bind.apply("MPI_Iallreduce", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        ibarrier = bind.apply("MPI_Ibarrier", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        ibcast = bind.apply("MPI_Ibcast", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        iallgather = bind.apply("MPI_Iallgather", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        test = bind.apply("MPI_Test", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        abort = bind.apply("MPI_Abort", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        errorString = bind.apply("MPI_Error_string", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        processorName = bind.apply("MPI_Get_processor_name", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        setErrhandler = bind.apply("MPI_Comm_set_errhandler", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    /** The library names tried, in order: $ATTNFACE_MPI_LIB, then the dynamic linker's search for libmpi.so.40. */
    static List<String> candidates() {
        List<String> names = new ArrayList<>();
        String env = System.getenv("ATTNFACE_MPI_LIB");
        if (env != null && !env.isBlank()) names.add(env);
        names.add("libmpi.so.40");
        names.add("/usr/lib/x86_64-linux-gnu/libmpi.so.40");
        names.add("/usr/lib64/openmpi/lib/libmpi.so.40");
        return names;
    }

    /**
     * Loads Open MPI. dlopen with RTLD_GLOBAL first: Open MPI loads its components (the shared-memory
     * and TCP transports) as plugins that look up libmpi's and libopen-pal's symbols globally, and
     * Java's own library lookup opens libraries RTLD_LOCAL.
     */
    static Mpi load() {
        Linker linker = Linker.nativeLinker();
        MethodHandle dlopen = linker.downcallHandle(linker.defaultLookup().find("dlopen").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        MethodHandle dlerror = linker.downcallHandle(linker.defaultLookup().find("dlerror").orElseThrow(), FunctionDescriptor.of(ADDRESS));
        List<String> tried = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            for (String name : candidates()) {
                MemorySegment h = (MemorySegment) dlopen.invokeExact(a.allocateFrom(name), 0x2 | 0x100);   // RTLD_NOW | RTLD_GLOBAL
                if (h.address() == 0) {
                    MemorySegment e = (MemorySegment) dlerror.invokeExact();
                    tried.add(name + " (" + (e.address() == 0 ? "not found" : e.reinterpret(4096).getString(0)) + ")");
                    continue;
                }
                return new Mpi(name, name.contains("/") ? SymbolLookup.libraryLookup(java.nio.file.Path.of(name), Arena.global())
                        : SymbolLookup.libraryLookup(name, Arena.global()));
            }
        } catch (DistException e) {
            throw e;
        } catch (Throwable t) {
            throw new DistException("could not load Open MPI: " + t, t);
        }
        throw new DistException("this process was started by mpirun but Open MPI's library could not be loaded; tried "
                + String.join(", ", tried) + ". Install Open MPI 4 (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) "
                + "or set ATTNFACE_MPI_LIB to the path of libmpi.so.40");
    }

    private static MemorySegment symbol(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new DistException("the MPI library has no symbol " + name
                + ": attnface binds Open MPI 4.x (libmpi.so.40), whose handles are these global symbols"));
    }

    // ---- set-up ------------------------------------------------------------------------------

    boolean initialized() {
        try {
            check("MPI_Initialized", (int) initialized.invokeExact(intOut));
            return intOut.get(JAVA_INT, 0) != 0;
        } catch (Throwable t) { throw wrap("MPI_Initialized", t); }
    }

    boolean finalized() {
        try {
            check("MPI_Finalized", (int) finalized.invokeExact(intOut));
            return intOut.get(JAVA_INT, 0) != 0;
        } catch (Throwable t) { throw wrap("MPI_Finalized", t); }
    }

    /** MPI_Init_thread(NULL, NULL, required); returns the level provided. Sets MPI_ERRORS_RETURN on the world. */
    int initThread(int required) {
        try {
            check("MPI_Init_thread", (int) initThread.invokeExact(MemorySegment.NULL, MemorySegment.NULL, required, intOut));
            int provided = intOut.get(JAVA_INT, 0);
            check("MPI_Comm_set_errhandler", (int) setErrhandler.invokeExact(commWorld, errorsReturn));
            return provided;
        } catch (Throwable t) { throw wrap("MPI_Init_thread", t); }
    }

    void finalizeMpi() {
        try {
            check("MPI_Finalize", (int) finalize.invokeExact());
        } catch (Throwable t) { throw wrap("MPI_Finalize", t); }
    }

    int rank(MemorySegment comm) {
        try {
            check("MPI_Comm_rank", (int) commRank.invokeExact(comm, intOut));
            return intOut.get(JAVA_INT, 0);
        } catch (Throwable t) { throw wrap("MPI_Comm_rank", t); }
    }

    int size(MemorySegment comm) {
        try {
            check("MPI_Comm_size", (int) commSize.invokeExact(comm, intOut));
            return intOut.get(JAVA_INT, 0);
        } catch (Throwable t) { throw wrap("MPI_Comm_size", t); }
    }

    /** MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, key, MPI_INFO_NULL): the ranks that share this machine's memory. */
    MemorySegment splitShared(MemorySegment comm, int key) {
        try {
            MemorySegment out = arena.allocate(ADDRESS);
            check("MPI_Comm_split_type", (int) commSplitType.invokeExact(comm, COMM_TYPE_SHARED, key, infoNull, out));
            return out.get(ADDRESS, 0);
        } catch (Throwable t) { throw wrap("MPI_Comm_split_type", t); }
    }

    void free(MemorySegment comm) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            p.set(ADDRESS, 0, comm);
            check("MPI_Comm_free", (int) commFree.invokeExact(p));
        } catch (Throwable t) { throw wrap("MPI_Comm_free", t); }
    }

    String processorName() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(256);
            check("MPI_Get_processor_name", (int) processorName.invokeExact(buf, intOut));
            return buf.getString(0, StandardCharsets.UTF_8);
        } catch (Throwable t) { throw wrap("MPI_Get_processor_name", t); }
    }

    // ---- communication (buffers are native segments: a non-blocking call keeps using them after it returns) -----

    /** Blocking MPI_Allreduce in place. */
    void allreduceInPlace(MemorySegment buf, int count, MemorySegment type, MemorySegment op, MemorySegment comm) {
        try {
            check("MPI_Allreduce", (int) allreduce.invokeExact(IN_PLACE, buf, count, type, op, comm));
        } catch (Throwable t) { throw wrap("MPI_Allreduce", t); }
    }

    // The non-blocking calls write their MPI_Request into {@code request}, a one-pointer segment that {@link #test} reads.

    /** MPI_Iallreduce in place. */
    void iallreduceInPlace(MemorySegment buf, int count, MemorySegment type, MemorySegment op, MemorySegment comm, MemorySegment request) {
        try {
            check("MPI_Iallreduce", (int) iallreduce.invokeExact(IN_PLACE, buf, count, type, op, comm, request));
        } catch (Throwable t) { throw wrap("MPI_Iallreduce", t); }
    }

    void ibarrier(MemorySegment comm, MemorySegment request) {
        try {
            check("MPI_Ibarrier", (int) ibarrier.invokeExact(comm, request));
        } catch (Throwable t) { throw wrap("MPI_Ibarrier", t); }
    }

    void ibcast(MemorySegment buf, int count, MemorySegment type, int root, MemorySegment comm, MemorySegment request) {
        try {
            check("MPI_Ibcast", (int) ibcast.invokeExact(buf, count, type, root, comm, request));
        } catch (Throwable t) { throw wrap("MPI_Ibcast", t); }
    }

    void iallgather(MemorySegment send, int count, MemorySegment type, MemorySegment recv, MemorySegment comm, MemorySegment request) {
        try {
            check("MPI_Iallgather", (int) iallgather.invokeExact(send, count, type, recv, count, type, comm, request));
        } catch (Throwable t) { throw wrap("MPI_Iallgather", t); }
    }

    /**
     * MPI_Test: drives Open MPI's progress engine (non-blocking collectives advance only inside
     * MPI calls) and says whether the request finished. {@code request} is a one-pointer segment
     * holding the request, which MPI sets to MPI_REQUEST_NULL when done.
     */
    boolean test(MemorySegment request) {
        try {
            check("MPI_Test", (int) test.invokeExact(request, intOut, MemorySegment.NULL));
            return intOut.get(JAVA_INT, 0) != 0;
        } catch (Throwable t) { throw wrap("MPI_Test", t); }
    }

    /** MPI_Abort(MPI_COMM_WORLD, code): mpirun then stops every rank of the job. Does not return. */
    void abort(int code) {
        try {
            int ignored = (int) abort.invokeExact(commWorld, code);
        } catch (Throwable t) {
            // nothing left to do: the caller exits
        }
    }

    // ---- errors ------------------------------------------------------------------------------

    private void check(String call, int code) {
        if (code == 0) return;
        String text;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(512);
            MemorySegment len = a.allocate(JAVA_INT);
            int ignored = (int) errorString.invokeExact(code, buf, len);
            text = buf.getString(0, StandardCharsets.UTF_8);
        } catch (Throwable t) {
            text = "error code " + code;
        }
        throw new DistException(call + " failed: " + text + " (MPI error " + code + ")");
    }

    private static RuntimeException wrap(String call, Throwable t) {
        if (t instanceof DistException d) return d;
        return new DistException(call + " failed: " + t, t);
    }
}
