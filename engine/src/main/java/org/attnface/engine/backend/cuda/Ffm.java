package org.attnface.engine.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/** Binds C functions of one opened library to method handles; a missing symbol fails naming the library and the function. */
final class Ffm {
    private static final Linker LINKER = Linker.nativeLinker();
    final Path file;
    private final SymbolLookup lookup;
    /** Every function bound (name and signature), which a test checks against the library's C headers. */
    final java.util.List<Bound> bound = new java.util.ArrayList<>();

    record Bound(String name, FunctionDescriptor signature) {}

    Ffm(NativeLibs.Loaded lib) {
        this.file = lib.file();
        this.lookup = lib.lookup();
    }

    MethodHandle bind(String name, FunctionDescriptor fd) {
        bound.add(new Bound(name, fd));
        return LINKER.downcallHandle(lookup.find(name).orElseThrow(() ->
                new CudaException(file + " has no function " + name + " (a different major version of the library?)")), fd);
    }

    /** A function that some versions lack, or null. */
    MethodHandle optional(String name, FunctionDescriptor fd) {
        bound.add(new Bound(name, fd));
        return lookup.find(name).map(sym -> LINKER.downcallHandle(sym, fd)).orElse(null);
    }

    /** A NUL-terminated C string returned by a library (error names, version strings). */
    static String string(MemorySegment s) {
        return s.equals(MemorySegment.NULL) ? "(null)" : s.reinterpret(4096).getString(0);
    }

    /** Opens a library by file for a one-off call (doctor's NCCL and MPI look-ups). */
    static Ffm open(Path file) {
        return new Ffm(new NativeLibs.Loaded(file, SymbolLookup.libraryLookup(file, Arena.global()), java.util.List.of()));
    }
}
