package org.attnface.trainer.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.junit.jupiter.api.Test;

class ResizeTest {
    @Test
    void integerFactorAveragesEachBlockExactly() {
        // 4x4 -> 2x2: each output pixel is the mean of a 2x2 block (sums chosen to divide by 4).
        byte[] src = new byte[4 * 4 * 3];
        int[] v = {0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60};
        for (int i = 0; i < 16; i++) src[i * 3] = src[i * 3 + 1] = src[i * 3 + 2] = (byte) v[i];
        byte[] out = Resize.squareAreaAverage(src, 4, 4, 2);
        int[] expect = {(0 + 4 + 16 + 20) / 4, (8 + 12 + 24 + 28) / 4, (32 + 36 + 48 + 52) / 4, (40 + 44 + 56 + 60) / 4};
        for (int i = 0; i < 4; i++) assertEquals(expect[i], out[i * 3] & 0xFF);
    }

    @Test
    void constantImageStaysConstantAtANonIntegerFactor() {
        byte[] src = new byte[200 * 200 * 3];
        java.util.Arrays.fill(src, (byte) 173);
        byte[] out = Resize.squareAreaAverage(src, 200, 200, 72);   // factor 2.78: weights must sum to 1
        byte[] expect = new byte[72 * 72 * 3];
        java.util.Arrays.fill(expect, (byte) 173);
        assertArrayEquals(expect, out);
    }

    @Test
    void meanBrightnessIsPreserved() {
        Random r = new Random(3);
        byte[] src = new byte[200 * 200 * 3];
        r.nextBytes(src);
        double before = 0, after = 0;
        for (byte b : src) before += b & 0xFF;
        byte[] out = Resize.squareAreaAverage(src, 200, 200, 72);
        for (byte b : out) after += b & 0xFF;
        // area averaging conserves the mean up to rounding each output to an integer (|error| <= 0.5 per value)
        assertEquals(before / src.length, after / out.length, 0.5);
    }

    @Test
    void nonSquareImagesAreCentreCropped() {
        // 6 wide x 2 high: the centre 2x2 (columns 2-3) is white, the rest black.
        byte[] src = new byte[6 * 2 * 3];
        for (int y = 0; y < 2; y++) for (int x = 2; x < 4; x++) for (int c = 0; c < 3; c++) src[(y * 6 + x) * 3 + c] = (byte) 255;
        byte[] out = Resize.squareAreaAverage(src, 6, 2, 1);
        assertEquals(255, out[0] & 0xFF);
    }
}
