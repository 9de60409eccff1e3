package org.attnface.trainer.options;

import java.io.PrintStream;

import org.attnface.engine.Device;
import org.attnface.engine.Backends;

import picocli.CommandLine.Option;

/** {@code --device}: where the tensors live. A missing GPU is a plain message, not a stack trace. */
public final class DeviceOption {
    @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda (default: ${DEFAULT-VALUE})")
    String device;

    /** The device named; a bad name is an IllegalArgumentException that lists the good ones ({@link Device#parse}). */
    public Device parse() { return Device.parse(device); }

    /**
     * Returns the device, with {@code threads} CPU threads when it is the CPU and threads > 0
     * (0: the default), or null after printing why the GPU cannot be used.
     */
    public Device open(int threads, PrintStream err) {
        Device d = parse();
        if (d == Device.CPU) {
            if (threads > 0) Backends.setCpuThreads(threads);
            return d;
        }
        try {
            Backends.of(d);
            return d;
        } catch (RuntimeException | LinkageError e) {
            err.println("attnface: --device cuda: no usable GPU or driver was found: " + e.getMessage());
            err.println("attnface: run with --device cpu (the default) on this machine");
            return null;
        }
    }

    /** The name as given ("cpu", "cuda", ...), as config.json stores it. */
    public String name() { return device; }
}
