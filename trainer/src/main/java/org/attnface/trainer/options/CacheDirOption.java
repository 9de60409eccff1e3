package org.attnface.trainer.options;

import java.nio.file.Path;

import org.attnface.trainer.data.FaceCache;

import picocli.CommandLine.Option;

/** {@code --cache-dir}: where decoded faces are kept between runs. */
public final class CacheDirOption {
    @Option(names = "--cache-dir", description = "where decoded faces are cached (default: ~/.cache/attnface)")
    Path cacheDir;

    /** The folder given, else {@link FaceCache#defaultDir()}. */
    public Path dir() { return cacheDir != null ? cacheDir : FaceCache.defaultDir(); }
}
