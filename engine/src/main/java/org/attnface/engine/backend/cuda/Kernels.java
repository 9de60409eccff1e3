package org.attnface.engine.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;

import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;

/** Our kernels: one fatbin per .cu family, shipped by the kernels module as classpath resources. */
final class Kernels {
    static final String[] FAMILIES = {"elementwise", "softmax", "sampler", "pool", "norm", "dropout", "optim", "augment"};
    static final String RESOURCE_DIR = "org/attnface/kernels/";

    private final Map<String, CUfunction> functions = new HashMap<>();
    private final Map<String, CUmodule> modules = new HashMap<>();

    /** The fatbin bytes of every family; fails plainly when the build had no nvcc. */
    static Map<String, byte[]> readFatbins() {
        Map<String, byte[]> out = new HashMap<>();
        for (String family : FAMILIES) {
            String res = RESOURCE_DIR + family + ".fatbin";
            try (InputStream in = Kernels.class.getClassLoader().getResourceAsStream(res)) {
                if (in == null)
                    throw new CudaException("CUDA kernels were not compiled: nvcc was not on the PATH at build time "
                            + "(classpath resource " + res + " is missing). Rebuild with nvcc on the PATH: "
                            + "./mvnw -pl kernels,engine install -DskipTests");
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
            Driver.check(JCudaDriver.cuModuleLoadData(m, e.getValue()), "cuModuleLoadData(" + e.getKey() + ".fatbin: no SASS or PTX for this GPU?)");
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
        Driver.check(JCudaDriver.cuModuleGetFunction(f, m, name), "cuModuleGetFunction(" + family + "." + name + ")");
        functions.put(name, f);
        return f;
    }
}
