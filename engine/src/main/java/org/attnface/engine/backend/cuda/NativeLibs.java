package org.attnface.engine.backend.cuda;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
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
 * ~/.cache/attnface/venv-cuda).
 * A library that is not found fails with the whole list of folders searched.
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
        if (home != null) pythonLibRoots.add(Path.of(home, ".cache/attnface/venv-cuda/lib"));   // where this project's scripts keep the NVIDIA wheels
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
        List<Path> dirs = searchPath();
        for (String name : names) {
            for (Path dir : dirs) {
                Path file = dir.resolve(name);
                if (!Files.isRegularFile(file)) continue;
                for (String companion : companions) {
                    String suffix = name.substring(name.indexOf(".so"));
                    Path c = dir.resolve(companion + suffix);
                    if (Files.isRegularFile(c)) {
                        try {
                            SymbolLookup.libraryLookup(c, Arena.global());
                        } catch (IllegalArgumentException ignored) {
                            // the main library's own loader reports what is really missing
                        }
                    }
                }
                try {
                    return new Loaded(file, SymbolLookup.libraryLookup(file, Arena.global()));
                } catch (IllegalArgumentException e) {
                    throw new CudaException("found " + file + " but could not load it (" + e.getMessage()
                            + "); a dependency may be missing: put its folder on LD_LIBRARY_PATH or ATTNFACE_CUDA_LIBS", e);
                }
            }
        }
        StringBuilder sb = new StringBuilder("could not find " + what + " (" + String.join(" or ", names) + ").\n"
                + "Search order: ATTNFACE_CUDA_LIBS, LD_LIBRARY_PATH, /usr/local/cuda/lib64 and other system folders, "
                + "then site-packages/nvidia/*/lib of python3 installations under /usr/lib, /usr/local/lib, /opt/*/.venv/lib, "
                + "/opt/*/lib, ~/.local/lib, ~/.cache/attnface/venv-cuda/lib and $VIRTUAL_ENV/lib.\nFolders searched (" + dirs.size() + "):");
        for (Path d : dirs) sb.append("\n  ").append(d);
        sb.append("\nSet ATTNFACE_CUDA_LIBS to the folder that holds it.");
        throw new CudaException(sb.toString());
    }

    public record Loaded(Path file, SymbolLookup lookup) {}

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
