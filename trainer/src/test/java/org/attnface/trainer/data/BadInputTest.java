package org.attnface.trainer.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import javax.imageio.ImageIO;

import org.attnface.trainer.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A folder of good faces plus every kind of bad file the issue names: each bad file is
 * reported on one line with its reason, the rest are kept, and a summary counts them.
 */
class BadInputTest {
    @TempDir Path tmp;

    private static String run(FaceFolder.Request req, FaceSet[] result) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (PrintStream log = new PrintStream(b, true, StandardCharsets.UTF_8)) {
            result[0] = FaceFolder.load(req, log);
        }
        return b.toString(StandardCharsets.UTF_8);
    }

    @Test
    void badFilesAreReportedOneLineEachAndSkippedOrKept() throws IOException {
        Path dir = tmp.resolve("faces");
        Path real = TestData.utkface();
        if (real != null) TestData.copySome(real, dir, 20);
        else TestData.synthesize(dir, 20, 200, 7);
        int good = 20;
        byte[] aGood = Files.readAllBytes(TestData.synthesize(tmp.resolve("src"), 1, 200, 8).getFirst());
        // truncated: the first half of a good JPEG
        Files.write(dir.resolve("30_0_0_20170101000000001.jpg.chip.jpg"), Arrays.copyOf(aGood, aGood.length / 2));
        // corrupt: 500 random bytes in the entropy-coded data, markers intact
        byte[] garbled = aGood.clone();
        java.util.Random r = new java.util.Random(1);
        for (int i = garbled.length / 3; i < garbled.length / 3 + 500; i++) garbled[i] = (byte) r.nextInt(256);
        Files.write(dir.resolve("37_1_0_20170101000000008.jpg.chip.jpg"), garbled);
        // PNG data under a JPEG name
        BufferedImage img = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(img, "png", png);
        Files.write(dir.resolve("31_1_0_20170101000000002.jpg.chip.jpg"), png.toByteArray());
        // a text file with an image name, and a text file with another name
        Files.writeString(dir.resolve("32_0_1_20170101000000003.jpg.chip.jpg"), "this is not an image\n");
        Files.writeString(dir.resolve("notes.txt"), "labels are in the names\n");
        // grayscale JPEG: kept, channel copied to RGB
        BufferedImage gray = new BufferedImage(200, 200, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 200; y++) for (int x = 0; x < 200; x++) gray.getRaster().setSample(x, y, 0, 90);
        Files.write(dir.resolve("33_1_2_20170101000000004.jpg.chip.jpg"), TestData.jpeg(gray));
        // 4-channel JPEG, if this JDK writes one
        byte[] cmyk = TestData.cmykJpeg(64);
        if (cmyk != null) Files.write(dir.resolve("34_0_3_20170101000000005.jpg.chip.jpg"), cmyk);
        // wrong size: 50x70, kept, centre-cropped and resized, with a note
        BufferedImage small = new BufferedImage(50, 70, BufferedImage.TYPE_INT_RGB);
        Files.write(dir.resolve("35_1_0_20170101000000006.jpg.chip.jpg"), TestData.jpeg(small));
        // malformed but readable name (space before the extension): kept with a note
        Files.write(dir.resolve("36_0_1_20170101000000007 .jpg.chip.jpg"), aGood);
        // unreadable name: skipped
        Files.write(dir.resolve("face.jpg"), aGood);

        FaceSet[] out = new FaceSet[1];
        String log = run(new FaceFolder.Request(dir, 72, 0, tmp.resolve("cache"), 2), out);
        System.out.println(log);
        FaceSet set = out[0];
        List<String> lines = log.lines().toList();
        assertLine(lines, "skip 30_0_0_20170101000000001.jpg.chip.jpg: truncated JPEG");
        assertLine(lines, "skip 37_1_0_20170101000000008.jpg.chip.jpg: corrupt JPEG");
        assertLine(lines, "skip 31_1_0_20170101000000002.jpg.chip.jpg: PNG data in a file named like a JPEG");
        assertLine(lines, "skip 32_0_1_20170101000000003.jpg.chip.jpg: not a JPEG (looks like text)");
        assertLine(lines, "skip notes.txt: name does not start with AGE_GENDER_");
        assertLine(lines, "skip face.jpg: name does not start with AGE_GENDER_");
        assertLine(lines, "kept 33_1_2_20170101000000004.jpg.chip.jpg: grayscale JPEG");
        assertLine(lines, "kept 35_1_0_20170101000000006.jpg.chip.jpg: 50x70 image, centre-cropped square and resized");
        assertLine(lines, "kept 36_0_1_20170101000000007 .jpg.chip.jpg: malformed name (space before the extension)");
        if (cmyk != null) assertLine(lines, "skip 34_0_3_20170101000000005.jpg.chip.jpg: CMYK JPEG");
        int entries = cmyk != null ? 30 : 29;
        assertLine(lines, entries + " entries: 23 images kept at 72x72; skipped " + (entries - 23) + " (unreadable names 2, undecodable " + (entries - 25)
                + "), 0 duplicates dropped, 0 left out by --limit, 0 entries not read; 1 malformed names kept");
        // kept: the good ones, gray, 50x70, malformed name (its bytes equal the synthesized good file, which is not in dir)
        assertEquals(good + 3, set.count());
        // the grayscale face is gray, not brightened: 90 stays about 90 (JPEG rounding)
        int gi = set.indexByName().get("33_1_2_20170101000000004.jpg.chip.jpg");
        byte[] gpx = set.image(gi);
        assertEquals(90, gpx[0] & 0xFF, 2);
        assertEquals(gpx[0], gpx[1]);

        // second load: from the cache, same content
        FaceSet[] again = new FaceSet[1];
        String log2 = run(new FaceFolder.Request(dir, 72, 0, tmp.resolve("cache"), 2), again);
        assertTrue(log2.startsWith("loaded " + set.count() + " images"), log2);
        assertTrue(again[0].pixels().isMapped(), "read from the cache: the file mapped, not copied onto the heap");
        assertArrayEquals(set.pixels().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), again[0].pixels().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        assertArrayEquals(set.names(), again[0].names());
        // the mapped pixels make the very batches the decoded array makes (crop, flip, jitter read in place)
        int[] idx = {0, set.count() - 1, 1, 0};
        try (Batches heap = new Batches(set, org.attnface.engine.Device.CPU, 64, org.attnface.model.AgeBuckets.decades());
             Batches mapped = new Batches(again[0], org.attnface.engine.Device.CPU, 64, org.attnface.model.AgeBuckets.decades());
             org.attnface.engine.TensorScope s = org.attnface.engine.TensorScope.open()) {
            assertArrayEquals(heap.images(idx, true, 99).toArray(), mapped.images(idx, true, 99).toArray());
        }

        // a damaged cache (one flipped byte in the pixels) is detected and rebuilt
        Path cache = FaceCache.fileFor(tmp.resolve("cache"), dir, 72, 0);
        byte[] c = Files.readAllBytes(cache);
        c[c.length - 100] ^= 0x40;
        Files.write(cache, c);
        FaceSet[] rebuilt = new FaceSet[1];
        String log3 = run(new FaceFolder.Request(dir, 72, 0, tmp.resolve("cache"), 2), rebuilt);
        assertTrue(log3.contains("is unreadable (checksum mismatch (damaged file)); rebuilding"), log3);
        assertArrayEquals(set.pixels().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), rebuilt[0].pixels().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    private static void assertLine(List<String> lines, String prefix) {
        assertTrue(lines.stream().anyMatch(l -> l.startsWith(prefix)), "no line starting with '" + prefix + "' in:\n" + String.join("\n", lines));
    }

    @Test
    void duplicatesAreDroppedBeforeAnythingElseAndDisagreeingLabelsCounted() throws IOException {
        Path dir = tmp.resolve("dups");
        List<Path> files = TestData.synthesize(dir, 6, 80, 11);
        byte[] same = Files.readAllBytes(files.getFirst());
        Files.write(dir.resolve("99_1_4_20170101000000099.jpg.chip.jpg"), same);       // same bytes, other labels
        Files.write(dir.resolve(files.getFirst().getFileName().toString().replace(".jpg.chip.jpg", "") + "1.jpg.chip.jpg"),
                same);                                                                   // same bytes, same age/gender
        FaceSet[] out = new FaceSet[1];
        String log = run(new FaceFolder.Request(dir, 40, 0, tmp.resolve("cache"), 2), out);
        assertEquals(6, out[0].count());
        assertTrue(log.contains("duplicates: 1 groups of byte-identical files, 2 files dropped (first name of each kept); 1 groups have different age or gender labels"), log);
    }

    @Test
    void emptyOrMissingFolderIsAClearError() throws IOException {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        IOException e = assertThrows(IOException.class, () -> FaceFolder.load(new FaceFolder.Request(empty, 72, 0, tmp, 1), System.out));
        assertTrue(e.getMessage().contains("holds no files"), e.getMessage());
        NoSuchFileException m = assertThrows(NoSuchFileException.class,
                () -> FaceFolder.load(new FaceFolder.Request(tmp.resolve("nope"), 72, 0, tmp, 1), System.out));
        assertEquals("data folder does not exist", m.getReason());
        Path junk = Files.createDirectories(tmp.resolve("junk"));
        Files.writeString(junk.resolve("a.txt"), "x");
        IOException j = assertThrows(IOException.class, () -> FaceFolder.load(new FaceFolder.Request(junk, 72, 0, tmp, 1), System.out));
        assertTrue(j.getMessage().contains("no file in"), j.getMessage());
        assertFalse(Files.exists(tmp.resolve("cache")));
    }

    @Test
    void aPngNamedPngIsReadExactly() throws Exception {
        BufferedImage img = new BufferedImage(5, 3, BufferedImage.TYPE_INT_RGB);
        java.util.Random r = new java.util.Random(3);
        for (int y = 0; y < 3; y++) for (int x = 0; x < 5; x++) img.setRGB(x, y, r.nextInt(1 << 24));
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(img, "png", png);
        FaceDecoder.Decoded d = FaceDecoder.decode(png.toByteArray(), "face.png");
        assertEquals(5, d.width());
        assertEquals(3, d.height());
        for (int i = 0; i < 15; i++) {
            int v = img.getRGB(i % 5, i / 5);
            assertArrayEquals(new byte[] {(byte) (v >> 16), (byte) (v >> 8), (byte) v}, Arrays.copyOfRange(d.rgb(), 3 * i, 3 * i + 3), "pixel " + i);
        }
    }
}
