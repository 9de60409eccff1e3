package org.attnface.engine.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * NVRTC (CUDA's runtime compiler) through java.lang.foreign: compiles our kernel sources for the
 * GPU at hand when the driver is too old for the nvcc fatbins (see {@link Compatibility}). Needs
 * no GPU and no driver, so the compilation is tested on any machine with the library.
 */
final class Nvrtc {
    final String library;
    /** The bindings (for the signature test). */
    final Ffm ffm;
    private final MethodHandle version, numArchs, archs, create, compile, logSize, log, cubinSize, cubin, ptxSize, ptx, destroy, errorString;

    Nvrtc(NativeLibs.Loaded lib) {
        Ffm f = new Ffm(lib);
        ffm = f;
        library = lib.file().toString();
        FunctionDescriptor progSize = FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS);
        version = f.bind("nvrtcVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        numArchs = f.bind("nvrtcGetNumSupportedArchs", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        archs = f.bind("nvrtcGetSupportedArchs", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        // (nvrtcProgram* prog, const char* src, const char* name, int numHeaders, const char** headers, const char** includeNames)
        create = f.bind("nvrtcCreateProgram", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        compile = f.bind("nvrtcCompileProgram", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS));
        logSize = f.bind("nvrtcGetProgramLogSize", progSize);
        log = f.bind("nvrtcGetProgramLog", progSize);
        cubinSize = f.bind("nvrtcGetCUBINSize", progSize);
        cubin = f.bind("nvrtcGetCUBIN", progSize);
        ptxSize = f.bind("nvrtcGetPTXSize", progSize);
        ptx = f.bind("nvrtcGetPTX", progSize);
        destroy = f.bind("nvrtcDestroyProgram", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        errorString = f.bind("nvrtcGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    /** 1000 * major + 10 * minor, as the driver encodes CUDA versions. */
    int version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment maj = a.allocate(JAVA_INT), min = a.allocate(JAVA_INT);
            check("nvrtcVersion", (int) version.invokeExact(maj, min));
            return 1000 * maj.get(JAVA_INT, 0) + 10 * min.get(JAVA_INT, 0);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("nvrtcVersion", t);
        }
    }

    /** The GPU architectures this NVRTC compiles for (75 = sm_75). */
    int[] supportedArchs() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            check("nvrtcGetNumSupportedArchs", (int) numArchs.invokeExact(n));
            MemorySegment out = a.allocate(JAVA_INT, n.get(JAVA_INT, 0));
            check("nvrtcGetSupportedArchs", (int) archs.invokeExact(out));
            return out.toArray(JAVA_INT);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("nvrtcGetSupportedArchs", t);
        }
    }

    /** A compiled program: CUBIN (SASS) or NUL-terminated PTX, and the compiler's log (empty: no warnings). */
    record Output(byte[] image, String log) {}

    /**
     * Compiles {@code source} (named {@code name} in messages) with the given headers (include name
     * -> text) for sm_{@code arch} SASS, or compute_{@code arch} PTX when {@code ptxOnly}. The options
     * match nvcc's build of the fatbins (-O3 is NVRTC's default). Fails with the compiler's log.
     */
    Output compile(String name, String source, Map<String, String> headers, int arch, boolean ptxOnly) {
        List<String> options = List.of((ptxOnly ? "--gpu-architecture=compute_" : "--gpu-architecture=sm_") + arch,
                "-std=c++17");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment prog = a.allocate(ADDRESS);
            List<String> names = new ArrayList<>(headers.keySet());
            MemorySegment hdrs = a.allocate(ADDRESS, Math.max(1, names.size())), incs = a.allocate(ADDRESS, Math.max(1, names.size()));
            for (int i = 0; i < names.size(); i++) {
                hdrs.setAtIndex(ADDRESS, i, a.allocateFrom(headers.get(names.get(i))));
                incs.setAtIndex(ADDRESS, i, a.allocateFrom(names.get(i)));
            }
            check("nvrtcCreateProgram(" + name + ")", (int) create.invokeExact(prog, a.allocateFrom(source), a.allocateFrom(name),
                    names.size(), hdrs, incs));
            long p = prog.get(JAVA_LONG, 0);
            try {
                MemorySegment opts = a.allocate(ADDRESS, options.size());
                for (int i = 0; i < options.size(); i++) opts.setAtIndex(ADDRESS, i, a.allocateFrom(options.get(i)));
                int status = (int) compile.invokeExact(p, options.size(), opts);
                String text = text(a, p, logSize, log).trim();
                if (status != 0)
                    throw new CudaException("NVRTC " + library + " could not compile " + name + " for " + options.getFirst() + ": "
                            + errorName(status) + "\n" + text);
                byte[] image = ptxOnly ? bytes(a, p, ptxSize, ptx) : bytes(a, p, cubinSize, cubin);
                return new Output(image, text);
            } finally {
                prog.set(JAVA_LONG, 0, p);
                int ignored = (int) destroy.invokeExact(prog);
            }
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("NVRTC compile of " + name, t);
        }
    }

    private String text(Arena a, long prog, MethodHandle size, MethodHandle get) throws Throwable {
        byte[] b = bytes(a, prog, size, get);
        int n = b.length;
        while (n > 0 && b[n - 1] == 0) n--;
        return new String(b, 0, n, java.nio.charset.StandardCharsets.UTF_8);
    }

    private byte[] bytes(Arena a, long prog, MethodHandle size, MethodHandle get) throws Throwable {
        MemorySegment n = a.allocate(JAVA_LONG);
        check("nvrtcGet*Size", (int) size.invokeExact(prog, n));
        long bytes = n.get(JAVA_LONG, 0);
        MemorySegment out = a.allocate(Math.max(1, bytes));
        check("nvrtcGet*", (int) get.invokeExact(prog, out));
        return out.asSlice(0, bytes).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    private String errorName(int status) {
        try {
            return Ffm.string((MemorySegment) errorString.invokeExact(status)) + " (" + status + ")";
        } catch (Throwable t) {
            return "status " + status;
        }
    }

    private void check(String call, int status) {
        if (status != 0) throw new CudaException(call + " failed in " + library + ": " + errorName(status));
    }
}
