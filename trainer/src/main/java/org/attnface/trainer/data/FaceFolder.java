package org.attnface.trainer.data;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import org.attnface.engine.backend.Rng;

/**
 * Reads a flat UTKFace folder into a {@link FaceSet}: parses the labels from the names,
 * drops byte-identical duplicates (SHA-256 of the file), decodes and resizes the rest on a
 * thread pool, and caches the result (see {@link FaceCache}) so later runs skip all of it.
 * Every dropped file gets one line naming it and the reason, then a summary.
 */
public final class FaceFolder {
    private FaceFolder() {}

    /** Where to read, at which cache size, how many images at most (0 = all). */
    public record Request(Path folder, int size, int limit, Path cacheDir, int threads) {}

    /** Files a folder holds, sorted by name, as (name, length, mtime). */
    record Listing(List<Path> files, long fingerprint) {}

    public static FaceSet load(Request req, PrintStream log) throws IOException {
        Listing listing = list(req.folder());
        long fingerprint = Rng.mix(listing.fingerprint(), (long) req.size() * 1_000_003L + req.limit());
        Path cacheFile = FaceCache.fileFor(req.cacheDir(), req.folder(), req.size(), req.limit());
        if (Files.exists(cacheFile)) {
            long t0 = System.nanoTime();
            try {
                FaceSet set = FaceCache.read(cacheFile, req.size(), fingerprint);
                log.printf(Locale.ROOT, "loaded %d images (%dx%d) from cache %s in %.1f s%n", set.count(), set.size(), set.size(),
                        cacheFile, (System.nanoTime() - t0) / 1e9);
                if (!set.report().isEmpty())
                    log.println("  (when it was built: " + set.report().getLast() + ")");
                return set;
            } catch (FaceCache.StaleCacheException e) {
                log.println("cache " + cacheFile + " is out of date (" + e.getMessage() + "); rebuilding");
            } catch (IOException e) {
                log.println("cache " + cacheFile + " is unreadable (" + e.getMessage() + "); rebuilding");
            }
        }
        FaceSet set = build(listing, req, log);
        try {
            long t0 = System.nanoTime();
            FaceCache.write(cacheFile, set, fingerprint);
            log.printf(Locale.ROOT, "wrote cache %s (%d MB) in %.1f s%n", cacheFile, Files.size(cacheFile) >> 20, (System.nanoTime() - t0) / 1e9);
        } catch (IOException e) {
            log.println("warning: could not write the cache (" + e.getMessage() + "); the next run decodes again");
        }
        return set;
    }

    static Listing list(Path folder) throws IOException {
        if (!Files.exists(folder)) throw new NoSuchFileException(folder.toString(), null, "data folder does not exist");
        if (!Files.isDirectory(folder)) throw new IOException(folder + " is not a folder (expected a flat folder of UTKFace JPEGs)");
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(folder)) {
            for (Path p : ds) if (Files.isRegularFile(p) && !p.getFileName().toString().startsWith(".")) files.add(p);
        }
        if (files.isEmpty()) throw new IOException("data folder " + folder + " holds no files (expected UTKFace JPEGs named AGE_GENDER_RACE_DATETIME.jpg.chip.jpg)");
        files.sort(null);
        long fp = 0;
        for (Path p : files) {
            fp = Rng.mix(fp, p.getFileName().toString().hashCode());
            fp = Rng.mix(fp, Files.size(p));
            fp = Rng.mix(fp, Files.getLastModifiedTime(p).toMillis());
        }
        return new Listing(files, fp);
    }

    private record Labeled(Path file, UtkName label) {}

    private record Hashed(Labeled item, String hash) {}

    private static FaceSet build(Listing listing, Request req, PrintStream log) throws IOException {
        List<String> report = new ArrayList<>();
        long t0 = System.nanoTime();
        // 1. labels from names
        List<Labeled> labeled = new ArrayList<>();
        int badNames = 0, malformedKept = 0;
        for (Path p : listing.files()) {
            String name = p.getFileName().toString();
            try {
                UtkName l = UtkName.parse(name);
                if (l.problem() != null) {
                    malformedKept++;
                    line(log, report, "kept " + name + ": malformed name (" + l.problem() + "), age " + l.age() + " gender " + l.gender()
                            + (l.race() < 0 ? ", race unknown" : ""));
                }
                labeled.add(new Labeled(p, l));
            } catch (IllegalArgumentException e) {
                badNames++;
                line(log, report, "skip " + name + ": " + e.getMessage());
            }
        }
        if (labeled.isEmpty()) throw new IOException("no file in " + req.folder() + " has a UTKFace name (AGE_GENDER_RACE_DATETIME.jpg.chip.jpg); "
                + listing.files().size() + " files looked at");
        // 2. content hashes, duplicates dropped (first name in sorted order kept)
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, req.threads()));
        try {
            List<Hashed> hashed = new ArrayList<>(labeled.size());
            List<Future<Hashed>> futures = new ArrayList<>();
            for (Labeled l : labeled) futures.add(pool.submit(() -> new Hashed(l, sha256(Files.readAllBytes(l.file())))));
            for (Future<Hashed> f : futures) hashed.add(get(f));
            Map<String, List<Hashed>> groups = new LinkedHashMap<>();
            for (Hashed h : hashed) groups.computeIfAbsent(h.hash(), k -> new ArrayList<>()).add(h);
            List<Hashed> distinct = new ArrayList<>();
            int dupGroups = 0, dupFiles = 0, disagreeing = 0;
            for (List<Hashed> g : groups.values()) {
                distinct.add(g.getFirst());
                if (g.size() > 1) {
                    dupGroups++;
                    dupFiles += g.size() - 1;
                    UtkName first = g.getFirst().item().label();
                    for (Hashed h : g) {
                        UtkName o = h.item().label();
                        if (o.age() != first.age() || o.gender() != first.gender()) { disagreeing++; break; }
                    }
                }
            }
            if (dupGroups > 0)
                line(log, report, String.format(Locale.ROOT, "duplicates: %d groups of byte-identical files, %d files dropped (first name of each kept); "
                        + "%d groups have different age or gender labels", dupGroups, dupFiles, disagreeing));
            // 3. optional subset: a fixed-seed sample, so the same --limit gives the same images
            List<Hashed> unique = distinct;
            if (req.limit() > 0 && req.limit() < distinct.size()) {
                int[] order = permutation(distinct.size(), 0x5EED_0F_11A17L);
                List<Hashed> pick = new ArrayList<>();
                int[] chosen = Arrays.copyOf(order, req.limit());
                Arrays.sort(chosen);
                for (int i : chosen) pick.add(distinct.get(i));
                line(log, report, "using " + req.limit() + " of " + distinct.size() + " images (--limit)");
                unique = pick;
            }
            List<Hashed> selected = unique;
            // 4. decode + resize
            long tDecode = System.nanoTime();
            int n = unique.size(), per = req.size() * req.size() * 3;
            byte[][] images = new byte[n][];
            String[] reasons = new String[n];
            String[] notes = new String[n];
            AtomicInteger done = new AtomicInteger();
            List<Future<?>> work = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int k = i;
                work.add(pool.submit(() -> {
                    Path file = selected.get(k).item().file();
                    try {
                        FaceDecoder.Decoded d = FaceDecoder.decode(Files.readAllBytes(file), file.getFileName().toString());
                        images[k] = Resize.squareAreaAverage(d.rgb(), d.width(), d.height(), req.size());
                        String note = d.note();
                        if (d.width() != d.height() || d.width() < req.size())
                            note = (note == null ? "" : note + "; ") + d.width() + "x" + d.height() + " image, centre-cropped square and resized";
                        notes[k] = note;
                    } catch (UnusableImageException e) {
                        reasons[k] = e.getMessage();
                    } catch (IOException | RuntimeException e) {
                        reasons[k] = "cannot read (" + FaceDecoder.oneLine(e) + ")";
                    }
                    done.incrementAndGet();
                    return null;
                }));
            }
            long lastPrint = System.nanoTime();
            for (Future<?> f : work) {
                get(f);
                long now = System.nanoTime();
                if (now - lastPrint > 2_000_000_000L) {
                    lastPrint = now;
                    int d = done.get();
                    double s = (now - tDecode) / 1e9;
                    log.printf(Locale.ROOT, "decoding %d/%d images, %.0f images/s, ETA %.0f s%n", d, n, d / s, (n - d) / Math.max(1e-9, d / s));
                }
            }
            double decodeSeconds = (System.nanoTime() - tDecode) / 1e9;
            int skipped = 0, noted = 0;
            List<Integer> keep = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String name = unique.get(i).item().file().getFileName().toString();
                if (reasons[i] != null) {
                    skipped++;
                    line(log, report, "skip " + name + ": " + reasons[i]);
                } else {
                    if (notes[i] != null) {
                        noted++;
                        line(log, report, "kept " + name + ": " + notes[i]);
                    }
                    keep.add(i);
                }
            }
            int m = keep.size();
            if (m == 0) throw new IOException("no usable image in " + req.folder() + ": all " + listing.files().size() + " files were skipped (see above)");
            String[] names = new String[m];
            int[] ages = new int[m], genders = new int[m], races = new int[m];
            byte[][] hashes = new byte[m][];
            byte[] pixels = new byte[m * per];
            for (int j = 0; j < m; j++) {
                int i = keep.get(j);
                Hashed h = unique.get(i);
                names[j] = h.item().file().getFileName().toString();
                ages[j] = h.item().label().age();
                genders[j] = h.item().label().gender();
                races[j] = h.item().label().race();
                hashes[j] = hexToBytes(h.hash());
                System.arraycopy(images[i], 0, pixels, j * per, per);
            }
            String summary = String.format(Locale.ROOT,
                    "%d files: %d images kept at %dx%d; skipped %d (unreadable names %d, undecodable %d), %d duplicates dropped, "
                            + "%d malformed names kept, %d images needed a fallback or a resize note; decoded %d images in %.1f s (%.0f images/s, %d threads); total %.1f s",
                    listing.files().size(), m, req.size(), req.size(), badNames + skipped, badNames, skipped, dupFiles, malformedKept, noted,
                    n, decodeSeconds, n / Math.max(1e-9, decodeSeconds), req.threads(), (System.nanoTime() - t0) / 1e9);
            line(log, report, summary);
            return new FaceSet(req.size(), names, ages, genders, races, hashes, pixels, List.copyOf(report));
        } finally {
            pool.shutdownNow();
        }
    }

    /** A seeded permutation of 0..n-1 (Fisher-Yates with counter-based draws). */
    public static int[] permutation(int n, long seed) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = (int) (Rng.uniform(seed, i) * (i + 1));
            if (j > i) j = i;
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    private static void line(PrintStream log, List<String> report, String s) {
        report.add(s);
        log.println(s);
    }

    private static <T> T get(Future<T> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while reading images", e);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof IOException io) throw io;
            throw new IOException(e.getCause().getMessage(), e.getCause());
        }
    }

    static String sha256(byte[] data) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(data);
            return java.util.HexFormat.of().formatHex(d);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] hexToBytes(String hex) {
        return java.util.HexFormat.of().parseHex(hex);
    }

}
