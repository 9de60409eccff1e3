package org.attnface.trainer.data;

import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;

import org.apache.commons.imaging.Imaging;

/**
 * Decodes a face image file to RGB bytes, choosing the decoder from the JPEG markers:
 * <ul>
 * <li>baseline JFIF, 3 channels (every UTKFace file): Apache Commons Imaging;</li>
 * <li>progressive, or no JFIF block (Commons Imaging refuses the first and gets the
 *     colours of the second wrong): ImageIO, with a warning listener, since ImageIO returns
 *     a damaged file half grey and only says so through a warning;</li>
 * <li>grayscale: ImageIO, reading the raster itself ({@code getRGB} brightens gray);</li>
 * <li>CMYK/YCCK, truncated, or not a JPEG at all: {@link UnusableImageException}.</li>
 * </ul>
 * PNG files (named .png) go through ImageIO. Every fallback is named in {@link Decoded#note}.
 */
public final class FaceDecoder {
    private FaceDecoder() {}

    /** Refuse to decode anything larger (a hostile header could ask for gigabytes): 25 MP, 100 MB as int ARGB. */
    public static final long MAX_PIXELS = 25_000_000L;

    /** HWC RGB pixels; note is null on the common path, else what was done differently. */
    public record Decoded(int width, int height, byte[] rgb, String note) {}

    /** What the markers say about a JPEG. */
    record JpegInfo(boolean jfif, boolean adobe, int frameMarker, int components, int width, int height, boolean endMarker) {
        boolean progressive() { return frameMarker == 0xC2 || frameMarker == 0xC6 || frameMarker == 0xCA || frameMarker == 0xCE; }

        boolean baseline() { return frameMarker == 0xC0 || frameMarker == 0xC1; }
    }

    public static Decoded decode(byte[] file, String name) throws UnusableImageException {
        if (file.length < 4) throw new UnusableImageException("file has " + file.length + " bytes, too short for an image");
        int b0 = file[0] & 0xFF, b1 = file[1] & 0xFF;
        if (b0 == 0x89 && b1 == 'P' && file[2] == 'N' && file[3] == 'G') {
            if (name.toLowerCase(java.util.Locale.ROOT).endsWith(".png")) {
                if (file.length < 24) throw new UnusableImageException("truncated PNG");
                long w = ((file[16] & 0xFFL) << 24) | ((file[17] & 0xFF) << 16) | ((file[18] & 0xFF) << 8) | (file[19] & 0xFF);
                long h = ((file[20] & 0xFFL) << 24) | ((file[21] & 0xFF) << 16) | ((file[22] & 0xFF) << 8) | (file[23] & 0xFF);
                if (w * h > MAX_PIXELS || w == 0 || h == 0) throw new UnusableImageException("PNG of " + w + "x" + h + " pixels refused");
                return imageIo(file, "PNG read with ImageIO");
            }
            throw new UnusableImageException("PNG data in a file named like a JPEG");
        }
        if (b0 != 0xFF || b1 != 0xD8) throw new UnusableImageException("not a JPEG (" + describeStart(file) + ")");
        JpegInfo info = inspect(file);
        if (!info.endMarker()) throw new UnusableImageException("truncated JPEG (no end-of-image marker)");
        if (info.frameMarker() < 0) throw new UnusableImageException("corrupt JPEG (no frame header)");
        if (info.width() == 0 || info.height() == 0) throw new UnusableImageException("corrupt JPEG (frame size " + info.width() + "x" + info.height() + ")");
        if ((long) info.width() * info.height() > MAX_PIXELS)
            throw new UnusableImageException("image of " + info.width() + "x" + info.height() + " pixels is larger than " + MAX_PIXELS + " (not a face crop?)");
        if (info.components() == 4) throw new UnusableImageException("CMYK/YCCK JPEG (4 channels): neither decoder converts it correctly");
        if (info.components() != 1 && info.components() != 3)
            throw new UnusableImageException("JPEG with " + info.components() + " channels");
        if (info.components() == 1) return imageIo(file, "grayscale JPEG, channel copied to R, G and B");
        if (info.progressive()) return imageIo(file, "progressive JPEG, decoded with ImageIO");
        if (!info.jfif()) return imageIo(file, "JPEG without JFIF block, decoded with ImageIO");
        if (!info.baseline()) return imageIo(file, String.format("JPEG frame type 0x%02X, decoded with ImageIO", info.frameMarker()));
        try {
            BufferedImage img = Imaging.getBufferedImage(file);
            return new Decoded(img.getWidth(), img.getHeight(), rgbBytes(img), null);
        } catch (IOException | RuntimeException e) {
            throw new UnusableImageException("corrupt JPEG (" + oneLine(e) + ")", e);
        }
    }

    /** Walks the marker segments up to the start of scan; never reads past the array. */
    static JpegInfo inspect(byte[] f) {
        boolean jfif = false, adobe = false;
        int frame = -1, components = 0, width = 0, height = 0;
        int p = 2;
        while (p + 4 <= f.length) {
            if ((f[p] & 0xFF) != 0xFF) break;
            int marker = f[p + 1] & 0xFF;
            if (marker == 0xFF) { p++; continue; }                   // fill byte
            if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) { p += 2; continue; }
            int len = ((f[p + 2] & 0xFF) << 8) | (f[p + 3] & 0xFF);
            if (len < 2) break;
            int body = p + 4;
            if (marker == 0xE0 && body + 5 <= f.length && f[body] == 'J' && f[body + 1] == 'F' && f[body + 2] == 'I' && f[body + 3] == 'F' && f[body + 4] == 0)
                jfif = true;
            if (marker == 0xEE && body + 5 <= f.length && f[body] == 'A' && f[body + 1] == 'd' && f[body + 2] == 'o' && f[body + 3] == 'b' && f[body + 4] == 'e')
                adobe = true;
            boolean sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
            if (sof && body + 6 <= f.length) {
                frame = marker;
                height = ((f[body + 1] & 0xFF) << 8) | (f[body + 2] & 0xFF);
                width = ((f[body + 3] & 0xFF) << 8) | (f[body + 4] & 0xFF);
                components = f[body + 5] & 0xFF;
            }
            if (marker == 0xDA) break;                                 // entropy-coded data follows
            p += 2 + len;
        }
        // The end-of-image marker, allowing a little padding after it as some encoders write.
        boolean end = false;
        for (int i = f.length - 2; i >= Math.max(2, f.length - 64); i--)
            if ((f[i] & 0xFF) == 0xFF && (f[i + 1] & 0xFF) == 0xD9) { end = true; break; }
        return new JpegInfo(jfif, adobe, frame, components, width, height, end);
    }

    private static Decoded imageIo(byte[] file, String note) throws UnusableImageException {
        List<String> warnings = new ArrayList<>();
        BufferedImage img;
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(file))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw new UnusableImageException("no ImageIO reader for this data");
            ImageReader reader = readers.next();
            try {
                reader.addIIOReadWarningListener((IIOReadWarningListener) (src, warning) -> warnings.add(warning));
                reader.setInput(in, true, true);
                img = reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            throw new UnusableImageException("ImageIO cannot decode it (" + oneLine(e) + ")", e);
        }
        if (!warnings.isEmpty()) throw new UnusableImageException("damaged image (ImageIO: " + warnings.get(0) + ")");
        if (img.getColorModel().getNumComponents() == 1) return new Decoded(img.getWidth(), img.getHeight(), grayToRgb(img.getRaster()), note);
        if (img.getColorModel().getNumComponents() == 4 && !img.getColorModel().hasAlpha())
            throw new UnusableImageException("4-channel colour model (CMYK?): not converted");
        return new Decoded(img.getWidth(), img.getHeight(), rgbBytes(img), note);
    }

    private static byte[] grayToRgb(Raster r) {
        int w = r.getWidth(), h = r.getHeight();
        int[] row = new int[w];
        byte[] out = new byte[w * h * 3];
        int bits = r.getSampleModel().getSampleSize(0);
        for (int y = 0; y < h; y++) {
            r.getSamples(0, y, w, 1, 0, row);
            for (int x = 0; x < w; x++) {
                int v = bits == 8 ? row[x] : row[x] >> (bits - 8);
                int o = (y * w + x) * 3;
                out[o] = out[o + 1] = out[o + 2] = (byte) v;
            }
        }
        return out;
    }

    /** RGB bytes of an image (alpha, where present, is dropped). */
    static byte[] rgbBytes(BufferedImage img) {
        int w = img.getWidth(), h = img.getHeight();
        int[] argb = img.getRGB(0, 0, w, h, null, 0, w);
        byte[] out = new byte[w * h * 3];
        for (int i = 0; i < argb.length; i++) {
            int v = argb[i];
            out[i * 3] = (byte) (v >> 16);
            out[i * 3 + 1] = (byte) (v >> 8);
            out[i * 3 + 2] = (byte) v;
        }
        return out;
    }

    private static String describeStart(byte[] f) {
        boolean text = true;
        for (int i = 0; i < Math.min(16, f.length); i++) {
            int c = f[i] & 0xFF;
            if (c < 9 || (c > 13 && c < 32) || c > 126) text = false;
        }
        if (text) return "looks like text";
        if (f[0] == 'G' && f[1] == 'I' && f[2] == 'F') return "GIF data";
        if (f[0] == 'B' && f[1] == 'M') return "BMP data";
        return String.format("starts with %02X %02X", f[0] & 0xFF, f[1] & 0xFF);
    }

    static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.replace('\n', ' ');
    }
}
