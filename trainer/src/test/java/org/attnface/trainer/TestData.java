package org.attnface.trainer;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;

/** Face-like test images: real UTKFace files when the shared folder exists, else generated JPEGs. */
public final class TestData {
    private TestData() {}

    /** ../shared/data/utkface from the project root, found by walking up from the working directory; null when absent. */
    public static Path utkface() {
        String env = System.getenv("ATTNFACE_UTKFACE");
        if (env != null && Files.isDirectory(Path.of(env))) return Path.of(env);
        for (Path d = Path.of(System.getProperty("user.dir")).toAbsolutePath(); d != null; d = d.getParent()) {
            Path p = d.resolve("shared/data/utkface");
            if (Files.isDirectory(p)) return p;
        }
        return null;
    }

    public static final String NO_UTKFACE = "UTKFace not found: ../shared/data/utkface (relative to the project root) or $ATTNFACE_UTKFACE is absent";

    /**
     * n JPEGs with UTKFace names whose content depends on the labels (women tinted red, men
     * blue; brightness grows with age), so a network can learn something in a few steps.
     */
    public static List<Path> synthesize(Path dir, int n, int size, long seed) throws IOException {
        Files.createDirectories(dir);
        Random r = new Random(seed);
        List<Path> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int age = 1 + r.nextInt(85), gender = r.nextInt(2), race = r.nextInt(5);
            BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            int base = 40 + age * 2;
            g.setColor(new Color(Math.min(255, base + (gender == 1 ? 60 : 0)), base / 2 + r.nextInt(20), Math.min(255, base + (gender == 0 ? 60 : 0))));
            g.fillRect(0, 0, size, size);
            g.setColor(new Color(r.nextInt(256), r.nextInt(256), r.nextInt(256)));
            int s = size / 3;
            g.fillOval(size / 2 - s / 2 + r.nextInt(5) - 2, size / 2 - s / 2 + r.nextInt(5) - 2, s, s + age / 10);
            g.dispose();
            Path f = dir.resolve(String.format("%d_%d_%d_2017%013d.jpg.chip.jpg", age, gender, race, 1_000_000L * i + r.nextInt(999_999)));
            ImageIO.write(img, "jpg", f.toFile());
            out.add(f);
        }
        return out;
    }

    /** Copies the first n files (by name) of a folder. */
    public static void copySome(Path from, Path to, int n) throws IOException {
        Files.createDirectories(to);
        List<Path> all = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(from, "*.jpg")) {
            for (Path p : ds) all.add(p);
        }
        all.sort(null);
        // every 7th file spreads the copy over ages (names start with the age)
        for (int i = 0, k = 0; i < all.size() && k < n; i += 7, k++) Files.copy(all.get(i), to.resolve(all.get(i).getFileName()));
    }

    public static byte[] jpeg(BufferedImage img) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        if (!ImageIO.write(img, "jpg", b)) throw new IOException("no JPEG writer");
        return b.toByteArray();
    }

    /** A 4-channel (CMYK-like) JPEG written from a raster; null when this JDK's writer refuses. */
    public static byte[] cmykJpeg(int size) {
        try {
            WritableRaster r = Raster.createInterleavedRaster(java.awt.image.DataBuffer.TYPE_BYTE, size, size, 4, null);
            for (int y = 0; y < size; y++) for (int x = 0; x < size; x++) r.setPixel(x, y, new int[] {x * 4, y * 4, 30, 10});
            ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            try (ImageOutputStream out = ImageIO.createImageOutputStream(b)) {
                w.setOutput(out);
                w.write(null, new IIOImage(r, null, null), null);
            } finally {
                w.dispose();
            }
            return b.toByteArray();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Where test runs cache decoded faces (not the user's ~/.cache). */
    public static Path cacheDir(Path tmp) { return tmp.resolve("cache"); }
}
