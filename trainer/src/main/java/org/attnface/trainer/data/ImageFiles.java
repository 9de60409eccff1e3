package org.attnface.trainer.data;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Locale;

/** Checks on a path a user names as an image, made before anything reads it (a FIFO would block the read forever). */
public final class ImageFiles {
    private ImageFiles() {}

    /**
     * Why {@code p} cannot be read as an image file ("is a FIFO (named pipe), not an image
     * file"), or null when it is a plain file or a symlink to one. A missing path is null too:
     * the caller's own "no such file" says it better.
     */
    public static String whyNotAFile(Path p) {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) return null;
        FolderEntries.Kind k = FolderEntries.kindOf(p, "x");
        return k == null ? null : "is a " + k.one + ", not a regular file";
    }

    /** A name that ends like an image file's: .jpg, .jpeg, .png (any case). */
    public static boolean namedLikeAnImage(Path p) {
        String n = p.getFileName() == null ? "" : p.getFileName().toString().toLowerCase(Locale.ROOT);
        return n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".png");
    }
}
