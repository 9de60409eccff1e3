package org.attnface.trainer.data;

/**
 * The EXIF orientation tag (1-8): how the stored pixels must be flipped or turned to show
 * the picture upright, as cameras write it instead of rotating the image itself.
 */
final class Orientation {
    private Orientation() {}

    static String describe(int o) {
        return switch (o) {
            case 2 -> "mirrored left to right";
            case 3 -> "rotated 180 degrees";
            case 4 -> "mirrored top to bottom";
            case 5 -> "transposed";
            case 6 -> "rotated 90 degrees clockwise";
            case 7 -> "transversed";
            case 8 -> "rotated 90 degrees counter-clockwise";
            default -> "unchanged";
        };
    }

    /** The upright image: output pixel (x, y) is stored pixel (sx, sy). */
    static FaceDecoder.Decoded apply(FaceDecoder.Decoded d, int o) {
        int w = d.width(), h = d.height();
        boolean swap = o >= 5;
        int ow = swap ? h : w, oh = swap ? w : h;
        byte[] in = d.rgb(), out = new byte[in.length];
        for (int y = 0; y < oh; y++) {
            for (int x = 0; x < ow; x++) {
                int sx, sy;
                switch (o) {
                    case 2 -> { sx = w - 1 - x; sy = y; }
                    case 3 -> { sx = w - 1 - x; sy = h - 1 - y; }
                    case 4 -> { sx = x; sy = h - 1 - y; }
                    case 5 -> { sx = y; sy = x; }
                    case 6 -> { sx = y; sy = h - 1 - x; }
                    case 7 -> { sx = w - 1 - y; sy = h - 1 - x; }
                    case 8 -> { sx = w - 1 - y; sy = x; }
                    default -> { sx = x; sy = y; }
                }
                System.arraycopy(in, (sy * w + sx) * 3, out, (y * ow + x) * 3, 3);
            }
        }
        return new FaceDecoder.Decoded(ow, oh, out, d.note());
    }
}
