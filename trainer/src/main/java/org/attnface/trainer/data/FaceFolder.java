package org.attnface.trainer.data;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
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
 * Reads a flat UTKFace folder into a {@link FaceSet}: accounts for every entry of the folder
 * ({@link FolderEntries}), parses the labels from the names, drops byte-identical duplicates
 * (SHA-256 of the file), decodes and resizes the rest on a thread pool, and caches the result
 * (see {@link FaceCache}) so later runs skip all of it. Every entry that is not used gets a
 * line naming it and the reason (past ten of a kind, one line for the rest), and the summary
 * counts every entry by outcome, so its counts add up to what {@code ls -A} lists.
 */
public final class FaceFolder {
    private FaceFolder() {}

    /** Lines of one kind named one by one before the rest are counted in a single line. */
    static final int NAMED_PER_KIND = 10;

    /** Where to read, at which cache size, how many images at most (0 = all). */
    public record Request(Path folder, int size, int limit, Path cacheDir, int threads) {}

    public static FaceSet load(Request req, PrintStream log) throws IOException {
        FolderEntries entries = FolderEntries.of(req.folder());
        long fingerprint = Rng.mix(entries.fingerprint(), (long) req.size() * 1_000_003L + req.limit());
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
        FaceSet set = build(entries, req, log);
        try {
            long t0 = System.nanoTime();
            FaceCache.write(cacheFile, set, fingerprint);
            log.printf(Locale.ROOT, "wrote cache %s (%d MB) in %.1f s%n", cacheFile, Files.size(cacheFile) >> 20, (System.nanoTime() - t0) / 1e9);
        } catch (IOException e) {
            log.println("warning: could not write the cache (" + e.getMessage() + "); the next run decodes again");
        }
        return set;
    }

    private record Labeled(Path file, UtkName label) {}

    private record Hashed(Labeled item, String hash) {}

    /** One image's decode: pixels at the cache size and a note, or the reason it was skipped. */
    private record Outcome(byte[] pixels, String note, String reason) {}

    /** The lines written while building (kept in the cache) and the counts the summary adds up. */
    private static final class Report {
        final PrintStream log;
        final List<String> lines = new ArrayList<>();
        int badNames, malformedKept, duplicates, leftOut, undecodable, noted;

        Report(PrintStream log) { this.log = log; }

        void line(String s) {
            lines.add(s);
            log.println(s);
        }
    }

    private static FaceSet build(FolderEntries entries, Request req, PrintStream log) throws IOException {
        long t0 = System.nanoTime();
        Report r = new Report(log);
        notRead(entries, r);
        List<Labeled> labeled = labels(entries, req, r);
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, req.threads()));
        try {
            List<Hashed> distinct = dropDuplicates(hash(labeled, pool), r);
            List<Hashed> selected = subset(distinct, req.limit(), r);
            long tDecode = System.nanoTime();
            Outcome[] outcomes = decode(selected, req.size(), pool, log);
            double decodeSeconds = (System.nanoTime() - tDecode) / 1e9;
            FaceSet set = keep(selected, outcomes, req, entries, r);
            summary(entries, set, req, r, selected.size(), decodeSeconds, (System.nanoTime() - t0) / 1e9);
            return new FaceSet(set.size(), set.names(), set.ages(), set.genders(), set.races(), set.hashes(), set.pixels(), List.copyOf(r.lines));
        } finally {
            pool.shutdownNow();
        }
    }

    /** 0. The entries that are not read at all (folders, symlinks that lead nowhere, FIFOs, hidden files): a line each, ten per kind. */
    private static void notRead(FolderEntries entries, Report r) {
        for (Map.Entry<FolderEntries.Kind, List<String>> e : entries.ignored().entrySet()) {
            List<String> names = e.getValue();
            for (int i = 0; i < Math.min(NAMED_PER_KIND, names.size()); i++) r.line("skip " + names.get(i) + ": " + e.getKey().one);
            if (names.size() > NAMED_PER_KIND) r.line("skip " + (names.size() - NAMED_PER_KIND) + " more " + e.getKey().many + " (not named)");
        }
    }

    /** 1. Labels from the names; a name without a readable age and gender skips the file. */
    private static List<Labeled> labels(FolderEntries entries, Request req, Report r) throws IOException {
        List<Labeled> labeled = new ArrayList<>();
        for (Path p : entries.files()) {
            String name = p.getFileName().toString();
            try {
                UtkName l = UtkName.parse(name);
                if (l.problem() != null) {
                    r.malformedKept++;
                    r.line("kept " + name + ": malformed name (" + l.problem() + "), age " + l.age() + " gender " + l.gender()
                            + (l.race() < 0 ? ", race unknown" : ""));
                }
                labeled.add(new Labeled(p, l));
            } catch (IllegalArgumentException e) {
                r.badNames++;
                r.line("skip " + name + ": " + e.getMessage());
            }
        }
        if (labeled.isEmpty()) throw new IOException("no file in " + req.folder() + " has a UTKFace name (AGE_GENDER_RACE_DATETIME.jpg.chip.jpg); "
                + entries.entries() + " entries looked at");
        return labeled;
    }

    private static List<Hashed> hash(List<Labeled> labeled, ExecutorService pool) throws IOException {
        List<Future<Hashed>> futures = new ArrayList<>();
        for (Labeled l : labeled) futures.add(pool.submit(() -> new Hashed(l, sha256(Files.readAllBytes(l.file())))));
        List<Hashed> hashed = new ArrayList<>(labeled.size());
        for (Future<Hashed> f : futures) hashed.add(get(f));
        return hashed;
    }

    /**
     * 2. Byte-identical files (same SHA-256) are one face: the first name in sorted order is
     * kept. Groups whose age or gender labels disagree are all named; the others, ten of them.
     */
    private static List<Hashed> dropDuplicates(List<Hashed> hashed, Report r) {
        Map<String, List<Hashed>> groups = new LinkedHashMap<>();
        for (Hashed h : hashed) groups.computeIfAbsent(h.hash(), k -> new ArrayList<>()).add(h);
        List<Hashed> distinct = new ArrayList<>();
        List<String> agreeing = new ArrayList<>(), disagreeing = new ArrayList<>();
        for (List<Hashed> g : groups.values()) {
            distinct.add(g.getFirst());
            if (g.size() == 1) continue;
            r.duplicates += g.size() - 1;
            UtkName first = g.getFirst().item().label();
            boolean differ = false;
            StringBuilder names = new StringBuilder(g.getFirst().item().file().getFileName() + " (kept)");
            for (Hashed h : g.subList(1, g.size())) {
                UtkName o = h.item().label();
                differ |= o.age() != first.age() || o.gender() != first.gender();
                names.append(", ").append(h.item().file().getFileName());
            }
            (differ ? disagreeing : agreeing).add(names.toString());
        }
        if (groups.size() == hashed.size()) return distinct;
        r.line(String.format(Locale.ROOT, "duplicates: %d groups of byte-identical files, %d files dropped (first name of each kept); "
                + "%d groups have different age or gender labels", agreeing.size() + disagreeing.size(), r.duplicates, disagreeing.size()));
        for (String g : disagreeing) r.line("  duplicates with different age or gender labels: " + g);
        for (int i = 0; i < Math.min(NAMED_PER_KIND, agreeing.size()); i++) r.line("  duplicates: " + agreeing.get(i));
        if (agreeing.size() > NAMED_PER_KIND) r.line("  and " + (agreeing.size() - NAMED_PER_KIND) + " more groups of duplicates with the same labels (not named)");
        return distinct;
    }

    /** 3. Optional subset: a fixed-seed sample, so the same --limit gives the same images. */
    private static List<Hashed> subset(List<Hashed> distinct, int limit, Report r) {
        if (limit <= 0 || limit >= distinct.size()) return distinct;
        int[] chosen = Arrays.copyOf(permutation(distinct.size(), 0x5EED_0F_11A17L), limit);
        Arrays.sort(chosen);
        List<Hashed> pick = new ArrayList<>();
        for (int i : chosen) pick.add(distinct.get(i));
        r.leftOut = distinct.size() - limit;
        r.line("using " + limit + " of " + distinct.size() + " images (--limit)");
        return pick;
    }

    /** 4. Decode and resize on the pool, with a progress line every 2 s. */
    private static Outcome[] decode(List<Hashed> selected, int size, ExecutorService pool, PrintStream log) throws IOException {
        long t0 = System.nanoTime();
        int n = selected.size();
        Outcome[] out = new Outcome[n];
        AtomicInteger done = new AtomicInteger();
        List<Future<?>> work = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int k = i;
            work.add(pool.submit(() -> {
                out[k] = decodeOne(selected.get(k).item().file(), size);
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
                double s = (now - t0) / 1e9;
                log.printf(Locale.ROOT, "decoding %d/%d images, %.0f images/s, ETA %.0f s%n", d, n, d / s, (n - d) / Math.max(1e-9, d / s));
            }
        }
        return out;
    }

    private static Outcome decodeOne(Path file, int size) {
        try {
            FaceDecoder.Decoded d = FaceDecoder.decode(Files.readAllBytes(file), file.getFileName().toString());
            byte[] px = Resize.squareAreaAverage(d.rgb(), d.width(), d.height(), size);
            String note = d.note();
            if (d.width() != d.height() || d.width() < size)
                note = (note == null ? "" : note + "; ") + d.width() + "x" + d.height() + " image, centre-cropped square and resized";
            return new Outcome(px, note, null);
        } catch (UnusableImageException e) {
            return new Outcome(null, null, e.getMessage());
        } catch (IOException | RuntimeException e) {
            return new Outcome(null, null, "cannot read (" + FaceDecoder.oneLine(e) + ")");
        }
    }

    /** 5. The decoded faces, in name order, with a line for each skipped or noted one. */
    private static FaceSet keep(List<Hashed> selected, Outcome[] outcomes, Request req, FolderEntries entries, Report r) throws IOException {
        List<Integer> keep = new ArrayList<>();
        for (int i = 0; i < selected.size(); i++) {
            String name = selected.get(i).item().file().getFileName().toString();
            if (outcomes[i].reason() != null) {
                r.undecodable++;
                r.line("skip " + name + ": " + outcomes[i].reason());
                continue;
            }
            if (outcomes[i].note() != null) {
                r.noted++;
                r.line("kept " + name + ": " + outcomes[i].note());
            }
            keep.add(i);
        }
        int m = keep.size(), per = req.size() * req.size() * 3;
        if (m == 0) throw new IOException("no usable image in " + req.folder() + ": all " + entries.entries() + " entries were skipped (see above)");
        String[] names = new String[m];
        int[] ages = new int[m], genders = new int[m], races = new int[m];
        byte[][] hashes = new byte[m][];
        byte[] pixels = new byte[m * per];
        for (int j = 0; j < m; j++) {
            Hashed h = selected.get(keep.get(j));
            names[j] = h.item().file().getFileName().toString();
            ages[j] = h.item().label().age();
            genders[j] = h.item().label().gender();
            races[j] = h.item().label().race();
            hashes[j] = hexToBytes(h.hash());
            System.arraycopy(outcomes[keep.get(j)].pixels(), 0, pixels, j * per, per);
        }
        return new FaceSet(req.size(), names, ages, genders, races, hashes, pixels, List.of());
    }

    /** 6. One line that counts every entry of the folder by outcome: the counts add up to the entries. */
    private static void summary(FolderEntries entries, FaceSet set, Request req, Report r, int decoded, double decodeSeconds, double totalSeconds) {
        int notRead = entries.entries() - entries.files().size();
        StringBuilder kinds = new StringBuilder();
        for (Map.Entry<FolderEntries.Kind, List<String>> e : entries.ignored().entrySet())
            kinds.append(kinds.isEmpty() ? " (" : ", ").append(e.getValue().size()).append(' ').append(e.getKey().many.replaceAll(" \\(.*", ""));
        if (!kinds.isEmpty()) kinds.append(')');
        int counted = set.count() + r.badNames + r.undecodable + r.duplicates + r.leftOut + notRead;
        if (counted != entries.entries())   // a bug, not bad input: say so rather than print counts that do not add up
            throw new IllegalStateException("folder accounting: " + counted + " outcomes for " + entries.entries() + " entries");
        r.line(String.format(Locale.ROOT,
                "%d entries: %d images kept at %dx%d; skipped %d (unreadable names %d, undecodable %d), %d duplicates dropped, "
                        + "%d left out by --limit, %d entries not read%s; %d malformed names kept, %d images needed a fallback or a resize note; "
                        + "decoded %d images in %.1f s (%.0f images/s, %d threads); total %.1f s",
                entries.entries(), set.count(), req.size(), req.size(), r.badNames + r.undecodable, r.badNames, r.undecodable, r.duplicates,
                r.leftOut, notRead, kinds, r.malformedKept, r.noted, decoded, decodeSeconds, decoded / Math.max(1e-9, decodeSeconds), req.threads(), totalSeconds));
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
