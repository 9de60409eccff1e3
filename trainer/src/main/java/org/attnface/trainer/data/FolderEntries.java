package org.attnface.trainer.data;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemLoopException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import org.attnface.engine.backend.Rng;

/**
 * Every entry of a data folder, as {@code ls -A} lists them, sorted by name and sorted into
 * what it is: a file that may be a face (a plain file, or a symlink to one) or one of the
 * kinds that are not read, each with the reason a user is shown. Nothing is dropped without
 * being counted, so the summary's counts add up to the folder's entries.
 */
record FolderEntries(List<Path> files, Map<Kind, List<String>> ignored, long fingerprint) {

    /** What an entry that is not read is. */
    enum Kind {
        HIDDEN("hidden file (name starts with a dot)", "hidden files"),
        APPLE_DOUBLE("AppleDouble file (macOS metadata, ._NAME)", "AppleDouble files"),
        FOLDER("folder", "folders (the data folder is read flat, not recursively)"),
        LINK_TO_FOLDER("symlink to a folder", "symlinks to folders"),
        DANGLING_LINK("dangling symlink (its target does not exist)", "dangling symlinks"),
        LOOPING_LINK("symlink loop", "looping symlinks"),
        FIFO("FIFO (named pipe)", "FIFOs"),
        SOCKET("socket", "sockets"),
        DEVICE("device file", "device files"),
        OTHER("not a plain file", "other entries"),
        UNREADABLE("cannot be examined", "entries that cannot be examined");

        final String one, many;

        Kind(String one, String many) {
            this.one = one;
            this.many = many;
        }
    }

    int entries() {
        int n = files.size();
        for (List<String> l : ignored.values()) n += l.size();
        return n;
    }

    static FolderEntries of(Path folder) throws IOException {
        if (!Files.exists(folder)) throw new NoSuchFileException(folder.toString(), null, "data folder does not exist");
        if (!Files.isDirectory(folder)) throw new IOException(folder + " is not a folder (expected a flat folder of UTKFace JPEGs)");
        List<Path> all = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(folder)) {
            for (Path p : ds) all.add(p);
        }
        all.sort(null);
        List<Path> files = new ArrayList<>();
        Map<Kind, List<String>> ignored = new EnumMap<>(Kind.class);
        long fp = 0;
        for (Path p : all) {
            String name = p.getFileName().toString();
            Kind k = kindOf(p, name);
            fp = Rng.mix(fp, name.hashCode());
            if (k != null) {
                ignored.computeIfAbsent(k, x -> new ArrayList<>()).add(name);
                fp = Rng.mix(fp, k.ordinal());
                continue;
            }
            files.add(p);
            fp = Rng.mix(fp, Files.size(p));
            fp = Rng.mix(fp, Files.getLastModifiedTime(p).toMillis());
        }
        if (all.isEmpty()) throw new IOException("data folder " + folder + " holds no files (expected UTKFace JPEGs named AGE_GENDER_RACE_DATETIME.jpg.chip.jpg)");
        return new FolderEntries(files, ignored, fp);
    }

    /** null for a file to read (a plain file or a symlink to one), else what the entry is. */
    static Kind kindOf(Path p, String name) {
        try {
            BasicFileAttributes own = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (own.isSymbolicLink()) {
                BasicFileAttributes target;
                try {
                    target = Files.readAttributes(p, BasicFileAttributes.class);
                } catch (FileSystemLoopException e) {
                    return Kind.LOOPING_LINK;
                } catch (NoSuchFileException e) {
                    return Kind.DANGLING_LINK;
                } catch (IOException e) {
                    // ELOOP surfaces as a plain FileSystemException on some JDKs
                    return e.getMessage() != null && e.getMessage().contains("Too many levels of symbolic links") ? Kind.LOOPING_LINK : Kind.UNREADABLE;
                }
                if (target.isDirectory()) return Kind.LINK_TO_FOLDER;
                if (!target.isRegularFile()) return special(p, LinkOption.values());
            } else if (own.isDirectory()) {
                return Kind.FOLDER;
            } else if (!own.isRegularFile()) {
                return special(p, LinkOption.NOFOLLOW_LINKS);
            }
        } catch (IOException e) {
            return Kind.UNREADABLE;
        }
        if (name.startsWith("._")) return Kind.APPLE_DOUBLE;
        if (name.startsWith(".")) return Kind.HIDDEN;
        return null;
    }

    /** FIFO, socket or device, from the file mode's type bits (S_IFMT) where the platform has them. */
    private static Kind special(Path p, LinkOption... options) {
        try {
            int mode = (Integer) Files.getAttribute(p, "unix:mode", options);
            return switch (mode & 0170000) {
                case 0010000 -> Kind.FIFO;
                case 0140000 -> Kind.SOCKET;
                case 0020000, 0060000 -> Kind.DEVICE;
                default -> Kind.OTHER;
            };
        } catch (IOException | RuntimeException e) {
            return Kind.OTHER;
        }
    }
}
