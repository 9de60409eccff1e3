package org.attnface.trainer.data;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Decoded faces in memory: size x size RGB uint8 images (HWC, one after another) and their
 * labels. {@code report} holds the lines written when the set was built (skipped files,
 * malformed names, duplicates), kept so a cached set can still say what was dropped.
 *
 * <p>{@code pixels} is a Java array when the set was just decoded, and the cache file mapped into
 * memory when it was read from the cache ({@link FaceCache}): the ranks of a job on one machine
 * then share one copy, the page cache's, instead of holding one each.
 */
public record FaceSet(int size, String[] names, int[] ages, int[] genders, int[] races, byte[][] hashes,
                      MemorySegment pixels, List<String> report) {
    public FaceSet {
        int n = names.length;
        if (ages.length != n || genders.length != n || races.length != n || hashes.length != n)
            throw new IllegalArgumentException("FaceSet: label arrays differ in length from " + n + " names");
        if ((long) n * size * size * 3 != pixels.byteSize())
            throw new IllegalArgumentException("FaceSet: " + pixels.byteSize() + " pixel bytes is not " + n + " x " + size + "x" + size + "x3");
    }

    public FaceSet(int size, String[] names, int[] ages, int[] genders, int[] races, byte[][] hashes, byte[] pixels, List<String> report) {
        this(size, names, ages, genders, races, hashes, MemorySegment.ofArray(pixels), report);
    }

    public int count() { return names.length; }

    /** Index of each name. */
    public Map<String, Integer> indexByName() {
        Map<String, Integer> m = new HashMap<>();
        for (int i = 0; i < names.length; i++) m.put(names[i], i);
        return m;
    }

    /** The pixels of image i (a copy). */
    public byte[] image(int i) {
        int n = size * size * 3;
        byte[] out = new byte[n];
        MemorySegment.copy(pixels, ValueLayout.JAVA_BYTE, (long) i * n, out, 0, n);
        return out;
    }

    /** The centre crop of image i, {@code crop} x {@code crop} RGB bytes (what evaluation feeds the network). */
    public byte[] centreCrop(int i, int crop) {
        int off = (size - crop) / 2;
        byte[] out = new byte[crop * crop * 3];
        long first = (long) i * size * size * 3;
        for (int y = 0; y < crop; y++)
            MemorySegment.copy(pixels, ValueLayout.JAVA_BYTE, first + ((long) (y + off) * size + off) * 3, out, y * crop * 3, crop * 3);
        return out;
    }
}
