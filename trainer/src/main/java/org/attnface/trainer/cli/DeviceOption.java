package org.attnface.trainer.cli;

import java.io.PrintStream;

import org.attnface.engine.Device;
import org.attnface.engine.Backends;
import org.attnface.trainer.train.Trainer;

/** Opens the device a command asked for; a missing GPU is a plain message, not a stack trace. */
final class DeviceOption {
    private DeviceOption() {}

    /** Returns the device, or null after printing why it cannot be used. */
    static Device open(String name, int threads, PrintStream err) {
        Device d = Trainer.parseDevice(name);
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
}
