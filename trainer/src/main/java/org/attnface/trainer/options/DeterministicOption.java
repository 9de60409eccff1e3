package org.attnface.trainer.options;

import java.io.PrintStream;

import org.attnface.engine.Device;
import org.attnface.engine.backend.cuda.CudaBackend;

import picocli.CommandLine.Option;

/** {@code --deterministic}: fixed-order GPU arithmetic, so a run repeats bit for bit. */
public final class DeterministicOption {
    @Option(names = "--deterministic", description = "cuda: only deterministic cuDNN algorithms and fixed-order kernels, so a run "
            + "repeats bit for bit (slower; also ATTNFACE_DETERMINISTIC=1); cpu: no effect, the CPU backend is always deterministic for a given thread count")
    boolean deterministic;

    public boolean enabled() { return deterministic; }

    /** When given: on the CPU a note that it changes nothing, on CUDA the backend made deterministic. */
    public void apply(Device d, PrintStream err) {
        if (!deterministic) return;
        if (d == Device.CPU)
            err.println("note: --deterministic has no effect on the cpu: the CPU backend is always deterministic for a given thread count");
        if (d == Device.CUDA) CudaBackend.setDeterministic(true);
    }
}
