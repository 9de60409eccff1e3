package org.attnface.engine;

/** Where a tensor's storage lives. One GPU per process is all the project needs today. */
public enum Device {
    CPU, CUDA;

    /** Parses "cpu" or "cuda" (case-insensitive), as given on the command line. */
    public static Device parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "cpu" -> CPU;
            case "cuda", "gpu" -> CUDA;
            default -> throw new IllegalArgumentException("unknown device '" + s + "': use cpu or cuda");
        };
    }

    @Override public String toString() { return name().toLowerCase(java.util.Locale.ROOT); }
}
