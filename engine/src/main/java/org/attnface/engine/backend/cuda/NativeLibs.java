package org.attnface.engine.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Finds and opens cuBLAS, cuDNN and NCCL (engine.dist) for the foreign-function bindings. Search order:
 * ATTNFACE_CUDA_LIBS, LD_LIBRARY_PATH, the standard CUDA folders, then the NVIDIA Python
 * wheels' site-packages/nvidia/NAME/lib folders (system, /usr/local, /opt/NAME/.venv, ~/.local,
 * $ATTNFACE_CUDA_VENV or ~/.cache/attnface/venv-cuda, $VIRTUAL_ENV).
 * A library that is not found fails with the whole list of folders searched. Which major
 * version of each library to open is {@link CudaLibraries}' choice.
 */
public final class NativeLibs {
    private NativeLibs() {}

    /** Every folder searched, in order (existing folders only, no duplicates). */
    public static List<Path> searchPath() {
        Set<Path> dirs = new LinkedHashSet<>();
        addList(dirs, System.getenv("ATTNFACE_CUDA_LIBS"));
        addList(dirs, System.getenv("LD_LIBRARY_PATH"));
        for (String d : new String[] {"/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
                "/usr/local/nvidia/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/lib"})
            add(dirs, Path.of(d));
        List<Path> pythonLibRoots = new ArrayList<>(List.of(Path.of("/usr/lib"), Path.of("/usr/local/lib")));
        pythonLibRoots.addAll(children(Path.of("/opt"), ".venv/lib"));
        pythonLibRoots.addAll(children(Path.of("/opt"), "lib"));
        String home = System.getProperty("user.home");
        if (home != null) pythonLibRoots.add(Path.of(home, ".local/lib"));
        String ours = System.getenv("ATTNFACE_CUDA_VENV");  // the venv .ci/cuda-libs.sh builds
        if (ours != null && !ours.isBlank()) pythonLibRoots.add(Path.of(ours, "lib"));
        else if (home != null) pythonLibRoots.add(Path.of(home, ".cache/attnface/venv-cuda/lib"));
        String venv = System.getenv("VIRTUAL_ENV");
        if (venv != null) pythonLibRoots.add(Path.of(venv, "lib"));
        for (Path root : pythonLibRoots) {
            for (Path python : glob(root, "python3*")) {
                for (String site : new String[] {"site-packages", "dist-packages"}) {
                    Path nvidia = python.resolve(site).resolve("nvidia");
                    for (Path pkg : glob(nvidia, "*")) {
                        add(dirs, pkg.resolve("lib"));
                        add(dirs, pkg.resolve("lib64"));
                    }
                }
            }
        }
        return new ArrayList<>(dirs);
    }

    /**
     * Opens the first of {@code names} found in the search path (file names such as
     * "libcublas.so.13"), after opening {@code companions} from the same folder so that
     * its own dependencies resolve there.
     */
    public static Loaded open(String what, List<String> names, List<String> companions) {
        return load(what, find(what, names, null), companions);
    }

    /**
     * The first of {@code names} in the search path, looking first in the folders of the
     * installation {@code preferRoot} (see {@link #installationRoot}; null: no preference), so
     * that cuBLAS and NVRTC come from the same wheels or toolkit as cuDNN. Fails listing every
     * folder searched.
     */
    static Path find(String what, List<String> names, Path preferRoot) { return find(what, names, preferRoot, searchPath()); }

    static Path find(String what, List<String> names, Path preferRoot, List<Path> dirs) {
        List<Path> ordered = new ArrayList<>();
        if (preferRoot != null) for (Path d : dirs) if (d.startsWith(preferRoot)) ordered.add(d);
        for (Path d : dirs) if (!ordered.contains(d)) ordered.add(d);
        for (String name : names)
            for (Path dir : ordered)
                if (Files.isRegularFile(dir.resolve(name))) return dir.resolve(name);
        StringBuilder sb = new StringBuilder("could not find " + what + " (" + String.join(" or ", names) + ").\n"
                + "Search order: ATTNFACE_CUDA_LIBS, LD_LIBRARY_PATH, /usr/local/cuda/lib64 and other system folders, "
                + "then site-packages/nvidia/*/lib of python3 installations under /usr/lib, /usr/local/lib, /opt/*/.venv/lib, "
                + "/opt/*/lib, ~/.local/lib, $ATTNFACE_CUDA_VENV/lib (default ~/.cache/attnface/venv-cuda/lib) and $VIRTUAL_ENV/lib.\nFolders searched (" + dirs.size() + "):");
        for (Path d : dirs) sb.append("\n  ").append(d);
        sb.append("\nSet ATTNFACE_CUDA_LIBS to the folder that holds it.");
        throw new CudaException(sb.toString());
    }

    /**
     * The installation a library folder belongs to: the site-packages/nvidia folder of NVIDIA's
     * Python wheels (cuDNN in nvidia/cudnn/lib, cuBLAS in nvidia/cu13/lib or nvidia/cublas/lib),
     * otherwise the folder itself (a toolkit's lib64, a distribution's lib folder).
     */
    static Path installationRoot(Path libDir) {
        Path pkg = libDir.getParent();
        if (pkg != null && pkg.getParent() != null && pkg.getParent().getFileName() != null
                && pkg.getParent().getFileName().toString().equals("nvidia")) return pkg.getParent();
        return libDir;
    }

    /**
     * Opens {@code file} after {@code companions} of the same folder and soname suffix (its
     * dependencies or sub-libraries, in order); a companion that fails to load is logged with
     * the loader's reason and kept in {@link Loaded#problems}: the main library may work without it.
     */
    static Loaded load(String what, Path file, List<String> companions) {
        Path dir = file.getParent();
        String name = file.getFileName().toString();
        String suffix = name.substring(name.indexOf(".so"));
        List<String> problems = new ArrayList<>();
        for (String companion : companions) {
            Path c = dir.resolve(companion + suffix);
            if (!Files.isRegularFile(c)) continue;
            try {
                SymbolLookup.libraryLookup(c, Arena.global());
            } catch (IllegalArgumentException e) {
                String p = c.getFileName() + ": " + loaderError(c, e);
                problems.add(p);
                System.err.println("attnface: " + what + ": could not load " + c + " (" + loaderError(c, e)
                        + "); the rest of " + what + " is used without it");
            }
        }
        try {
            return new Loaded(file, SymbolLookup.libraryLookup(file, Arena.global()), List.copyOf(problems));
        } catch (IllegalArgumentException e) {
            throw new CudaException("found " + file + " but could not load it (" + loaderError(file, e)
                    + "); a dependency may be missing: put its folder on LD_LIBRARY_PATH or ATTNFACE_CUDA_LIBS", e);
        }
    }

    /** A library opened for FFM; {@code problems}: companions that failed to load, each with the loader's reason. */
    public record Loaded(Path file, SymbolLookup lookup, List<String> problems) {}

    /** Why the loader cannot open {@code name} (a soname, searched as the loader does), or null when it can. */
    static String loaderError(String name) {
        try {
            SymbolLookup.libraryLookup(name, Arena.global());
            return null;
        } catch (IllegalArgumentException e) {
            return loaderError(Path.of(name), e);
        }
    }

    /** The dynamic loader's own reason (dlerror: the missing dependency or symbol), which Java's exception omits. */
    static String loaderError(Path file, RuntimeException e) {
        try {
            Linker linker = Linker.nativeLinker();
            var dlopen = linker.defaultLookup().find("dlopen");
            var dlerror = linker.defaultLookup().find("dlerror");
            if (dlopen.isEmpty() || dlerror.isEmpty()) return e.getMessage();
            MethodHandle open = linker.downcallHandle(dlopen.get(), FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
            MethodHandle error = linker.downcallHandle(dlerror.get(), FunctionDescriptor.of(ADDRESS));
            try (Arena a = Arena.ofConfined()) {
                MemorySegment h = (MemorySegment) open.invokeExact(a.allocateFrom(file.toString()), 2 /* RTLD_NOW */);
                if (!h.equals(MemorySegment.NULL)) return e.getMessage();
                return Ffm.string((MemorySegment) error.invokeExact());
            }
        } catch (Throwable t) {
            return e.getMessage();
        }
    }

    private static void addList(Set<Path> dirs, String list) {
        if (list == null || list.isBlank()) return;
        for (String s : list.split(":")) if (!s.isBlank()) add(dirs, Path.of(s));
    }

    private static void add(Set<Path> dirs, Path dir) {
        if (Files.isDirectory(dir)) dirs.add(dir.toAbsolutePath().normalize());
    }

    private static List<Path> children(Path parent, String sub) {
        List<Path> out = new ArrayList<>();
        for (Path p : glob(parent, "*")) out.add(p.resolve(sub));
        return out;
    }

    private static List<Path> glob(Path dir, String pattern) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, pattern)) {
            for (Path p : ds) if (Files.isDirectory(p)) out.add(p);
        } catch (IOException | SecurityException e) {
            // an unreadable folder is simply not searched
        }
        out.sort(null);
        return out;
    }
}
