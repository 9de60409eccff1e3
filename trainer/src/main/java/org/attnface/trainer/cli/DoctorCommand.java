package org.attnface.trainer.cli;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

import org.attnface.engine.Backends;
import org.attnface.engine.backend.cuda.Doctor;

import jdk.incubator.vector.FloatVector;
import picocli.CommandLine.Command;

/**
 * `attnface doctor`: what this machine offers the engine, one line per fact: Java and its
 * vector width, CPU threads, the GPU driver and devices (or why none), each CUDA library with
 * version and path, how the kernels reach the GPU, MPI and NCCL. Always exits 0: it reports.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = {"Prints what this machine offers attnface: Java and vector width, CPU threads, GPU driver and devices,",
                "the CUDA libraries (version and path), whether the kernels load or compile with NVRTC, MPI and NCCL."})
public final class DoctorCommand implements Callable<Integer> {
    @Override public Integer call() {
        report(System.out);
        return 0;
    }

    static void report(PrintStream out) {
        out.println("Java " + Runtime.version() + " (" + System.getProperty("java.vm.name") + ", " + System.getProperty("java.home") + ")");
        out.println("CPU: " + Runtime.getRuntime().availableProcessors() + " processors, " + Backends.cpuThreads()
                + " threads for the CPU backend (ATTNFACE_THREADS or --threads), float vectors of "
                + FloatVector.SPECIES_PREFERRED.length() + " lanes (" + FloatVector.SPECIES_PREFERRED.vectorBitSize() + " bits)");
        for (String line : Doctor.cudaReport()) out.println(line);
        out.println(mpi());
    }

    /** Open MPI's libmpi.so.40 and its MPI_Get_library_version (callable before MPI_Init), or why not. */
    static String mpi() {
        Set<Path> dirs = new LinkedHashSet<>();
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null) for (String d : ld.split(":")) if (!d.isBlank()) dirs.add(Path.of(d));
        for (String d : List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu/openmpi/lib", "/usr/lib64/openmpi/lib",
                "/usr/local/lib", "/opt/openmpi/lib", "/usr/lib64")) dirs.add(Path.of(d));
        List<Path> searched = new ArrayList<>();
        for (Path d : dirs) {
            Path f = d.resolve("libmpi.so.40");
            searched.add(d);
            if (!Files.isRegularFile(f)) continue;
            try (Arena a = Arena.ofConfined()) {
                SymbolLookup lib = SymbolLookup.libraryLookup(f, Arena.global());
                MethodHandle version = Linker.nativeLinker().downcallHandle(lib.find("MPI_Get_library_version").orElseThrow(),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
                MemorySegment buf = a.allocate(8192), len = a.allocate(JAVA_INT);
                int status = (int) version.invokeExact(buf, len);
                if (status != 0) return "MPI: " + f + ": MPI_Get_library_version returned " + status;
                return "MPI: " + buf.getString(0).lines().findFirst().orElse("").trim() + " " + f;
            } catch (Throwable t) {
                return "MPI: " + f + " does not load (" + t.getMessage() + ")";
            }
        }
        return "MPI: no libmpi.so.40 (Open MPI) in " + searched;
    }
}
