package org.attnface.trainer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.Arrays;
import java.util.Random;

import org.attnface.trainer.TestData;
import org.junit.jupiter.api.Test;

/**
 * Hostile image files (issue #6): 10,000 seeded mutations of small JPEGs (bit flips, byte
 * overwrites, truncations, insertions, huge frame sizes). Each must end in a decoded image
 * of plausible size or an UnusableImageException with a reason: no other exception, no
 * OutOfMemoryError, no hang (the whole run is bounded by the test's time).
 */
class DecoderFuzzTest {
    @Test
    void mutatedJpegsEndInAnImageOrAReason() throws IOException {
        byte[][] seeds = {jpeg(16, BufferedImage.TYPE_INT_RGB), jpeg(24, BufferedImage.TYPE_BYTE_GRAY)};
        Random r = new Random(20261129);
        int decoded = 0, refused = 0;
        long t0 = System.nanoTime();
        for (int c = 0; c < 10_000; c++) {
            byte[] f = mutate(seeds[c % 2], r);
            try {
                FaceDecoder.Decoded d = FaceDecoder.decode(f, "case" + c + ".jpg");
                assertTrue((long) d.width() * d.height() <= FaceDecoder.MAX_PIXELS);
                assertEquals((long) d.width() * d.height() * 3, d.rgb().length);
                decoded++;
            } catch (UnusableImageException e) {
                assertTrue(e.getMessage() != null && !e.getMessage().isBlank());
                refused++;
            } catch (Throwable t) {
                fail("case " + c + " (" + f.length + " bytes) threw " + t, t);
            }
        }
        System.out.printf("decoder fuzz: 10000 cases, %d decoded, %d refused with a reason, %.1f s%n", decoded, refused, (System.nanoTime() - t0) / 1e9);
        assertTrue(refused > 1000 && decoded > 100, "the mutations should exercise both outcomes");
    }

    private static byte[] jpeg(int size, int type) throws IOException {
        BufferedImage img = new BufferedImage(size, size, type);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.ORANGE);
        g.fillOval(2, 2, size - 4, size - 4);
        g.dispose();
        return TestData.jpeg(img);
    }

    private static byte[] mutate(byte[] seed, Random r) {
        byte[] f = seed.clone();
        switch (r.nextInt(6)) {
            case 0 -> { for (int k = 1 + r.nextInt(8); k > 0; k--) f[r.nextInt(f.length)] ^= (byte) (1 << r.nextInt(8)); }
            case 1 -> { for (int k = 1 + r.nextInt(4); k > 0; k--) f[r.nextInt(f.length)] = (byte) r.nextInt(256); }
            case 2 -> f = Arrays.copyOf(f, r.nextInt(f.length));
            case 3 -> {
                int at = r.nextInt(f.length);
                byte[] g = new byte[f.length + 1 + r.nextInt(16)];
                System.arraycopy(f, 0, g, 0, at);
                for (int i = at; i < at + g.length - f.length; i++) g[i] = (byte) r.nextInt(256);
                System.arraycopy(f, at, g, at + g.length - f.length, f.length - at);
                f = g;
            }
            case 4 -> {   // a frame header asking for a huge image
                for (int i = 2; i + 8 < f.length; i++)
                    if ((f[i] & 0xFF) == 0xFF && (f[i + 1] & 0xFF) == 0xC0) {
                        f[i + 5] = (byte) r.nextInt(256);
                        f[i + 6] = (byte) r.nextInt(256);
                        f[i + 7] = (byte) r.nextInt(256);
                        f[i + 8] = (byte) r.nextInt(256);
                        break;
                    }
            }
            default -> {  // a segment length field overwritten
                for (int i = 2; i + 3 < f.length; i++)
                    if ((f[i] & 0xFF) == 0xFF && (f[i + 1] & 0xFF) >= 0xC0 && r.nextInt(4) == 0) {
                        f[i + 2] = (byte) r.nextInt(256);
                        f[i + 3] = (byte) r.nextInt(256);
                        break;
                    }
            }
        }
        return f;
    }
}
