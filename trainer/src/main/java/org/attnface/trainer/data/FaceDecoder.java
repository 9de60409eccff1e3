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
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Decodes a face image file to RGB bytes that match libjpeg-turbo's (djpeg's) within 4 levels
 * per channel, or refuses it with a reason; JpegDifferentialTest checks this against djpeg on
 * variants of real faces. {@link JpegFile} walks every marker and scan to the end-of-image
 * marker and rebuilds the stream for ImageIO (the JDK's libjpeg), which matches djpeg to the
 * bit on baseline, progressive, restart markers, RGB and every subsampling but 4:4:0, where
 * its upsampling differs (Commons Imaging, used before, is off by up to 9 levels on ordinary
 * 4:2:0 faces and by over 100 with restart markers). Refused: truncated or corrupt data
 * (ImageIO reports damage only through a warning, so a listener turns it into a refusal),
 * CMYK/YCCK, arithmetic coding, lossless, hierarchical, 12-bit and 4:4:0. Applied: the EXIF
 * orientation. Ignored, with a note: an ICC profile (as djpeg does) and bytes after the
 * end-of-image marker. PNG files (named .png) go through ImageIO.
 */
public final class FaceDecoder {
    private FaceDecoder() {}

    /** Refuse to decode anything larger (a hostile header could ask for gigabytes): 25 MP, 100 MB as int ARGB. */
    public static final long MAX_PIXELS = 25_000_000L;

    /** HWC RGB pixels; note is null on the common path, else what was done differently. */
    public record Decoded(int width, int height, byte[] rgb, String note) {}

    public static Decoded decode(byte[] file, String name) throws UnusableImageException {
        if (file.length < 4) throw new UnusableImageException("file has " + file.length + " bytes, too short for an image");
        int b0 = file[0] & 0xFF, b1 = file[1] & 0xFF;
        if (b0 == 0x89 && b1 == 'P' && file[2] == 'N' && file[3] == 'G') {
            if (name.toLowerCase(java.util.Locale.ROOT).endsWith(".png")) {
                if (file.length < 24) throw new UnusableImageException("truncated PNG");
                long w = ((file[16] & 0xFFL) << 24) | ((file[17] & 0xFF) << 16) | ((file[18] & 0xFF) << 8) | (file[19] & 0xFF);
                long h = ((file[20] & 0xFFL) << 24) | ((file[21] & 0xFF) << 16) | ((file[22] & 0xFF) << 8) | (file[23] & 0xFF);
                if (w * h > MAX_PIXELS || w == 0 || h == 0) throw new UnusableImageException("PNG of " + w + "x" + h + " pixels refused");
                return imageIo(file, "PNG read with ImageIO", "PNG");
            }
            throw new UnusableImageException("PNG data in a file named like a JPEG");
        }
        if (b0 != 0xFF || b1 != 0xD8) throw new UnusableImageException("not a JPEG (" + describeStart(file) + ")");
        JpegFile j;
        try {
            j = JpegFile.parse(file);
        } catch (JpegFile.BadStructure e) {
            throw new UnusableImageException(e.getMessage());
        }
        refuseUnsupported(j);
        List<String> notes = new ArrayList<>();
        if (j.components() == 1) notes.add("grayscale JPEG, channel copied to R, G and B");
        if (j.progressive()) notes.add("progressive JPEG");
        if (j.components() == 3 && !j.jfif()) notes.add("JPEG without JFIF block, read as " + (j.rgb() ? "RGB" : "YCbCr")
                + (j.adobeTransform() >= 0 ? " (Adobe marker)" : " (component ids)"));
        if (j.icc()) notes.add("embedded ICC profile ignored, as libjpeg-turbo does");
        if (j.trailingBytes() > 0) notes.add(j.trailingBytes() + " bytes after the end-of-image marker ignored");
        Decoded d = imageIo(j.cleaned(), null, "JPEG");
        if (d.width() != j.width() || d.height() != j.height())
            throw new UnusableImageException("corrupt JPEG (decoded " + d.width() + "x" + d.height() + ", the frame says " + j.width() + "x" + j.height() + ")");
        if (j.orientation() != 1) {
            d = Orientation.apply(d, j.orientation());
            notes.add("EXIF orientation " + j.orientation() + " applied (" + Orientation.describe(j.orientation()) + ")");
        }
        return new Decoded(d.width(), d.height(), d.rgb(), notes.isEmpty() ? null : String.join("; ", notes));
    }

    /** What libjpeg-turbo decodes but this decoder would not get within 4 levels of it. */
    private static void refuseUnsupported(JpegFile j) throws UnusableImageException {
        int sof = j.frameMarker();
        if (sof == 0xC3 || sof == 0xC7 || sof == 0xCB || sof == 0xCF) throw new UnusableImageException(String.format("lossless JPEG (SOF 0x%02X): not supported", sof));
        if (sof == 0xC5 || sof == 0xC6 || sof == 0xCD || sof == 0xCE) throw new UnusableImageException(String.format("hierarchical JPEG (SOF 0x%02X): not supported", sof));
        if (sof >= 0xC9) throw new UnusableImageException(String.format("arithmetic-coded JPEG (SOF 0x%02X): not supported", sof));
        if (j.precision() != 8) throw new UnusableImageException("JPEG with " + j.precision() + "-bit samples: only 8-bit JPEGs are read");
        if (j.width() == 0 || j.height() == 0) throw new UnusableImageException("corrupt JPEG (frame size " + j.width() + "x" + j.height() + ")");
        if ((long) j.width() * j.height() > MAX_PIXELS)
            throw new UnusableImageException("image of " + j.width() + "x" + j.height() + " pixels is larger than " + MAX_PIXELS + " (not a face crop?)");
        if (j.components() == 4)
            throw new UnusableImageException((j.adobeTransform() == 2 ? "YCCK" : "CMYK") + " JPEG (4 channels): not converted to RGB");
        if (j.components() != 1 && j.components() != 3) throw new UnusableImageException("JPEG with " + j.components() + " channels");
        int hMax = 0, vMax = 0;
        for (int c = 0; c < j.components(); c++) {
            hMax = Math.max(hMax, j.hSampling()[c]);
            vMax = Math.max(vMax, j.vSampling()[c]);
        }
        for (int c = 0; c < j.components(); c++) {
            int h = j.hSampling()[c], v = j.vSampling()[c];
            if (h < 1 || h > 4 || v < 1 || v > 4 || hMax % h != 0 || vMax % v != 0)
                throw new UnusableImageException("corrupt or unsupported JPEG (sampling factors " + samplingOf(j) + ")");
            // libjpeg-turbo interpolates a 1x2 (4:4:0) ratio, ImageIO's libjpeg repeats rows: up to 7 levels apart
            if (j.components() > 1 && hMax / h == 1 && vMax / v == 2)
                throw new UnusableImageException("JPEG with 4:4:0 chroma subsampling (" + samplingOf(j) + "): not supported");
        }
    }

    private static String samplingOf(JpegFile j) {
        StringBuilder b = new StringBuilder();
        for (int c = 0; c < j.components(); c++) b.append(c == 0 ? "" : ",").append(j.hSampling()[c]).append('x').append(j.vSampling()[c]);
        return b.toString();
    }

    private static Decoded imageIo(byte[] file, String note, String kind) throws UnusableImageException {
        List<String> warnings = new ArrayList<>();
        BufferedImage img;
        // In memory: ImageIO.createImageInputStream would spool the bytes through a temporary file.
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(file))) {
            Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName(kind);
            if (!readers.hasNext()) throw new UnusableImageException("no ImageIO reader for " + kind);
            ImageReader reader = readers.next();
            try {
                reader.addIIOReadWarningListener((IIOReadWarningListener) (src, warning) -> warnings.add(warning));
                reader.setInput(in, true, true);
                img = reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            throw new UnusableImageException("corrupt " + kind + " (ImageIO: " + oneLine(e) + ")", e);
        }
        if (!warnings.isEmpty()) throw new UnusableImageException("corrupt " + kind + " (ImageIO: " + warnings.get(0) + ")");
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
        if (img.getType() == BufferedImage.TYPE_3BYTE_BGR && img.getRaster().getDataBuffer() instanceof java.awt.image.DataBufferByte db
                && db.getNumBanks() == 1 && db.getData().length == w * h * 3) {   // what ImageIO's JPEG reader returns: swap B and R
            byte[] bgr = db.getData(), out = new byte[bgr.length];
            for (int i = 0; i < bgr.length; i += 3) {
                out[i] = bgr[i + 2];
                out[i + 1] = bgr[i + 1];
                out[i + 2] = bgr[i];
            }
            return out;
        }
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
