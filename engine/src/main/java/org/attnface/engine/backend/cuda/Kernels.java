package org.attnface.engine.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;

/**
 * Our kernels: one module per .cu family. The kernels module ships nvcc's fatbins (when the build
 * had nvcc) and the sources as classpath resources; {@link #images} picks the fatbins or compiles
 * the sources with NVRTC as {@link Compatibility#kernels} decides, caching NVRTC's output on disk
 * per GPU architecture, driver, NVRTC version and source text.
 */
final class Kernels {
    static final String[] FAMILIES = {"elementwise", "softmax", "sampler", "pool", "norm", "dropout", "optim", "augment"};
    static final String RESOURCE_DIR = "org/attnface/kernels/";

    private final Map<String, CUfunction> functions = new HashMap<>();
    private final Map<String, CUmodule> modules = new HashMap<>();

    static final String SOURCE_DIR = RESOURCE_DIR + "src/", HEADER = "common.cuh";

    /** What the build's fatbins hold (fatbin.properties, written by build-kernels.sh), or null without nvcc. */
    static Compatibility.Fatbin fatbinInfo() {
        try (InputStream in = Kernels.class.getClassLoader().getResourceAsStream(RESOURCE_DIR + "fatbin.properties")) {
            if (in == null) return null;
            Properties p = new Properties();
            p.load(in);
            int[] sass = java.util.Arrays.stream(p.getProperty("sass", "").trim().split("\\s+")).filter(x -> !x.isEmpty())
                    .mapToInt(Integer::parseInt).toArray();
            return new Compatibility.Fatbin(Compatibility.parse(p.getProperty("nvcc")), sass, Integer.parseInt(p.getProperty("ptx").trim()));
        } catch (IOException | RuntimeException e) {
            throw new CudaException("kernel resource " + RESOURCE_DIR + "fatbin.properties is unreadable: " + e.getMessage(), e);
        }
    }

    /** The CUDA source text of every family and of the shared header, from the kernels jar. */
    static Map<String, String> sources() {
        Map<String, String> out = new LinkedHashMap<>();
        for (String f : FAMILIES) out.put(f, resourceText(SOURCE_DIR + f + ".cu"));
        out.put(HEADER, resourceText(SOURCE_DIR + HEADER));
        return out;
    }

    private static String resourceText(String res) {
        try (InputStream in = Kernels.class.getClassLoader().getResourceAsStream(res)) {
            if (in == null) throw new CudaException("kernel source " + res + " is missing from the kernels jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CudaException("could not read kernel source " + res, e);
        }
    }

    /** The module images for the decision: the fatbins, or NVRTC's output (from the disk cache when present). */
    static Map<String, byte[]> images(Compatibility.Decision d, Nvrtc nvrtc, int driverCuda) {
        if (d.source() == Compatibility.Source.FATBIN) return readFatbins();
        return compiled(nvrtc, d.arch(), d.source() == Compatibility.Source.NVRTC_PTX, driverCuda, cacheRoot());
    }

    /** $ATTNFACE_CACHE/kernels, else ~/.cache/attnface/kernels. */
    static Path cacheRoot() {
        String env = System.getenv("ATTNFACE_CACHE");
        return (env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "attnface")).resolve("kernels");
    }

    /**
     * Every family compiled by NVRTC for {@code arch}, cached under {@code cacheRoot} in a folder
     * named by the architecture, the driver, the NVRTC version and a hash of the sources: a
     * driver or source change compiles afresh. A cache that cannot be written only costs time.
     */
    static Map<String, byte[]> compiled(Nvrtc nvrtc, int arch, boolean ptx, int driverCuda, Path cacheRoot) {
        Map<String, String> src = sources();
        int version = nvrtc.version();
        Path dir = cacheRoot.resolve(cacheKey(arch, ptx, driverCuda, version, hash(src)));
        Map<String, String> header = Map.of(HEADER, src.get(HEADER));
        Map<String, byte[]> out = new HashMap<>();
        for (String family : FAMILIES) {
            Path file = dir.resolve(family + (ptx ? ".ptx" : ".cubin"));
            try {
                if (Files.isRegularFile(file)) {
                    out.put(family, Files.readAllBytes(file));
                    continue;
                }
            } catch (IOException e) {
                // compile it again below
            }
            long t0 = System.nanoTime();
            Nvrtc.Output o = nvrtc.compile(family + ".cu", src.get(family), header, arch, ptx);
            if (!o.log().isEmpty()) System.err.println("attnface: NVRTC " + family + ".cu: " + o.log());
            System.err.printf("attnface: NVRTC compiled %s.cu for %s%d in %.1f s%n", family, ptx ? "compute_" : "sm_", arch,
                    (System.nanoTime() - t0) / 1e9);
            out.put(family, o.image());
            try {
                Files.createDirectories(dir);
                Path tmp = Files.createTempFile(dir, family, ".tmp");
                Files.write(tmp, o.image());
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                System.err.println("attnface: could not cache the compiled kernels in " + dir + " (" + e.getMessage() + ")");
            }
        }
        return out;
    }

    /** The cache folder's name: "sm_86-driver12080-nvrtc12.9-" and 16 hex digits of the sources' SHA-256. */
    static String cacheKey(int arch, boolean ptx, int driverCuda, int nvrtcVersion, String sourceHash) {
        return (ptx ? "compute_" : "sm_") + arch + "-driver" + driverCuda + "-nvrtc" + Compatibility.format(nvrtcVersion) + "-" + sourceHash;
    }

    static String hash(Map<String, String> src) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (var e : src.entrySet()) {
                md.update(e.getKey().getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
                md.update(e.getValue().getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The fatbin bytes of every family; fails plainly when the build had no nvcc. */
    static Map<String, byte[]> readFatbins() {
        Map<String, byte[]> out = new HashMap<>();
        for (String family : FAMILIES) {
            String res = RESOURCE_DIR + family + ".fatbin";
            try (InputStream in = Kernels.class.getClassLoader().getResourceAsStream(res)) {
                if (in == null)
                    throw new CudaException("CUDA kernels cannot run: classpath resource " + res + " is missing although "
                            + "fatbin.properties lists the fatbins; rebuild the kernels jar: ./mvnw -pl kernels package");
                out.put(family, in.readAllBytes());
            } catch (IOException e) {
                throw new CudaException("could not read kernel resource " + res, e);
            }
        }
        return out;
    }

    Kernels(Map<String, byte[]> fatbins) {
        for (var e : fatbins.entrySet()) {
            CUmodule m = new CUmodule();
            int status = JCudaDriver.cuModuleLoadData(m, e.getValue());
            if (status != 0) Driver.check(status, "cuModuleLoadData(" + e.getKey() + ": no SASS or PTX for this GPU and driver?)");
            modules.put(e.getKey(), m);
        }
    }

    /** The kernel {@code name} of {@code family}, looked up once (synchronized: a loader thread may launch too). */
    synchronized CUfunction get(String family, String name) {
        CUfunction f = functions.get(name);
        if (f != null) return f;
        CUmodule m = modules.get(family);
        if (m == null) throw new IllegalArgumentException("no kernel family " + family);
        f = new CUfunction();
        int status = JCudaDriver.cuModuleGetFunction(f, m, name);
        if (status != 0) Driver.check(status, "cuModuleGetFunction(" + family + "." + name + ")");
        functions.put(name, f);
        return f;
    }
}
