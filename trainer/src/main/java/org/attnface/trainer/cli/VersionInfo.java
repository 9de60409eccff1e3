package org.attnface.trainer.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;

import org.attnface.engine.Device;
import org.attnface.engine.Backends;

import jdk.incubator.vector.FloatVector;
import picocli.CommandLine.IVersionProvider;

/**
 * {@code attnface --version}: the version and git commit the jar was built from (build.properties,
 * written by trainer/build-info.sh), the Java runtime, the CPU backend's SIMD width (the Vector API's
 * preferred float species on this CPU) and threads, and whether the CUDA backend can start here (if
 * not, why).
 */
final class VersionInfo implements IVersionProvider {
    static final String RESOURCE = "/org/attnface/trainer/build.properties";

    @Override public String[] getVersion() {
        Properties build = new Properties();
        try (InputStream in = VersionInfo.class.getResourceAsStream(RESOURCE)) {
            if (in != null) build.load(in);
        } catch (IOException e) {
            // fall through to "unknown": --version must not fail
        }
        List<String> lines = new ArrayList<>();
        lines.add("attnface " + build.getProperty("version", "unknown") + " (git commit " + build.getProperty("commit", "unknown") + ")");
        lines.add("Java " + Runtime.version() + " (" + System.getProperty("java.vm.vendor", "?") + "), " + System.getProperty("os.name")
                + " " + System.getProperty("os.arch") + String.format(Locale.ROOT, ", heap %,d MiB", Runtime.getRuntime().maxMemory() >> 20));
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        lines.add(String.format(Locale.ROOT, "backend cpu: vector width %d bits (%d floats), %d threads", lanes * 32, lanes, Backends.cpuThreads()));
        lines.add("backend cuda: " + cuda());
        return lines.toArray(String[]::new);
    }

    /** "available", or the first sentence of why the CUDA backend cannot start. */
    private static String cuda() {
        try {
            Backends.raw(Device.CUDA);
            return "available";
        } catch (RuntimeException | LinkageError e) {
            String m = String.valueOf(e.getMessage());
            int end = m.indexOf(". ");
            return "not available (" + (end > 0 ? m.substring(0, end) : m) + ")";
        }
    }
}
