package org.attnface.trainer.data;

import java.io.ByteArrayOutputStream;

/**
 * A JPEG file's structure, read by walking every marker segment and every scan's
 * entropy-coded data up to the end-of-image marker, as libjpeg does. {@link #cleaned} is the
 * same image rebuilt for ImageIO with nothing it could interpret differently from
 * libjpeg-turbo: one colour-space signal chosen by libjpeg-turbo's rule, no ICC profile
 * (libjpeg-turbo's djpeg does not apply one), no EXIF, no comments, nothing after the end.
 */
record JpegFile(int frameMarker, int precision, int width, int height, int[] componentIds, int[] hSampling, int[] vSampling,
                boolean jfif, int adobeTransform, int orientation, boolean icc, int trailingBytes, byte[] cleaned) {

    /** The file cannot be walked to its end-of-image marker; the message says why. */
    static final class BadStructure extends Exception {
        BadStructure(String m) { super(m); }
    }

    int components() { return componentIds.length; }

    boolean progressive() { return frameMarker == 0xC2; }

    /** RGB as libjpeg-turbo decides it for 3 channels (jdapimin.c default_decompress_parms): JFIF, then Adobe, then the component ids. */
    boolean rgb() { return rgb(jfif, adobeTransform, componentIds); }

    private static boolean rgb(boolean jfif, int adobeTransform, int[] ids) {
        if (ids.length != 3 || jfif) return false;
        if (adobeTransform >= 0) return adobeTransform == 0;
        return ids[0] == 'R' && ids[1] == 'G' && ids[2] == 'B';
    }

    static JpegFile parse(byte[] f) throws BadStructure {
        if (f.length < 4 || (f[0] & 0xFF) != 0xFF || (f[1] & 0xFF) != 0xD8) throw new BadStructure("not a JPEG");
        ByteArrayOutputStream kept = new ByteArrayOutputStream(f.length);
        int frame = -1, precision = 0, width = 0, height = 0, adobe = -1, orientation = 1;
        int[] ids = new int[0], h = new int[0], v = new int[0];
        boolean jfif = false, icc = false, scanned = false;
        int p = 2;
        while (true) {
            if (p >= f.length) throw ended(f, p);
            if ((f[p] & 0xFF) != 0xFF) throw new BadStructure("corrupt JPEG (no marker at byte " + p + ")");
            while (p + 1 < f.length && (f[p + 1] & 0xFF) == 0xFF) p++;   // fill bytes before a marker
            if (p + 1 >= f.length) throw ended(f, p);
            int marker = f[p + 1] & 0xFF;
            if (marker == 0xD9) {
                if (!scanned) throw new BadStructure("corrupt JPEG (end-of-image marker before any scan)");
                int trailing = f.length - (p + 2);
                kept.write(0xFF);
                kept.write(0xD9);
                return new JpegFile(frame, precision, width, height, ids, h, v, jfif, adobe, orientation, icc, trailing,
                        withColourSignal(kept.toByteArray(), frame, ids.length, rgb(jfif, adobe, ids)));
            }
            if (marker == 0xD8) throw new BadStructure("corrupt JPEG (a second start-of-image marker at byte " + p + ")");
            if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { p += 2; continue; }   // no length
            if (p + 4 > f.length) throw ended(f, p);
            int len = ((f[p + 2] & 0xFF) << 8) | (f[p + 3] & 0xFF);
            int end = p + 2 + len;
            if (len < 2) throw new BadStructure(String.format("corrupt JPEG (marker 0x%02X has length %d)", marker, len));
            if (end > f.length) throw ended(f, p);
            int body = p + 4;
            boolean keep = true;
            if (marker == 0xE0 && startsWith(f, body, end, "JFIF\0")) { jfif = true; keep = false; }
            else if (marker == 0xEE && startsWith(f, body, end, "Adobe") && end - body >= 12) { adobe = f[body + 11] & 0xFF; keep = false; }
            else if (marker == 0xE1 && startsWith(f, body, end, "Exif\0\0")) { orientation = exifOrientation(f, body + 6, end); keep = false; }
            else if (marker == 0xE2 && startsWith(f, body, end, "ICC_PROFILE\0")) { icc = true; keep = false; }
            else if ((marker >= 0xE0 && marker <= 0xEF) || marker == 0xFE) keep = false;   // other APPn, COM: nothing a decoder needs
            else if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
                if (frame >= 0) throw new BadStructure("corrupt JPEG (a second frame header)");
                if (end - body < 6) throw new BadStructure("corrupt JPEG (short frame header)");
                frame = marker;
                precision = f[body] & 0xFF;
                height = ((f[body + 1] & 0xFF) << 8) | (f[body + 2] & 0xFF);
                width = ((f[body + 3] & 0xFF) << 8) | (f[body + 4] & 0xFF);
                int n = f[body + 5] & 0xFF;
                if (end - body < 6 + 3 * n) throw new BadStructure("corrupt JPEG (frame header of " + n + " components is short)");
                ids = new int[n];
                h = new int[n];
                v = new int[n];
                for (int c = 0; c < n; c++) {
                    ids[c] = f[body + 6 + 3 * c] & 0xFF;
                    h[c] = (f[body + 7 + 3 * c] & 0xFF) >> 4;
                    v[c] = f[body + 7 + 3 * c] & 0x0F;
                }
            }
            if (keep) kept.write(f, p, end - p);
            p = end;
            if (marker == 0xDA) {
                if (frame < 0) throw new BadStructure("corrupt JPEG (scan before the frame header)");
                scanned = true;
                // Entropy-coded data: FF 00 is a data byte, FF D0-D7 a restart marker, FF FF fill; any other FF xx ends it.
                int q = p;
                while (true) {
                    if (q + 1 >= f.length) throw ended(f, p);
                    if ((f[q] & 0xFF) == 0xFF) {
                        int n = f[q + 1] & 0xFF;
                        if (n == 0x00 || (n >= 0xD0 && n <= 0xD7)) { q += 2; continue; }
                        if (n == 0xFF) { q++; continue; }
                        break;
                    }
                    q++;
                }
                kept.write(f, p, q - p);
                p = q;
            }
        }
    }

    /**
     * The stream with exactly one colour-space signal after SOI: for 3-channel YCbCr a plain
     * JFIF APP0, for RGB an Adobe APP14 with transform 0 (both decoders read these the same
     * way). Gray needs none.
     */
    private static byte[] withColourSignal(byte[] segments, int frame, int components, boolean rgb) {
        byte[] signal;
        if (components != 3) signal = new byte[0];
        else if (rgb) signal = new byte[] {(byte) 0xFF, (byte) 0xEE, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0};
        else signal = new byte[] {(byte) 0xFF, (byte) 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};
        byte[] out = new byte[2 + signal.length + segments.length];
        out[0] = (byte) 0xFF;
        out[1] = (byte) 0xD8;
        System.arraycopy(signal, 0, out, 2, signal.length);
        System.arraycopy(segments, 0, out, 2 + signal.length, segments.length);
        return out;
    }

    /** The walk from byte p ran off the end: truncated if no end-of-image marker follows, else a damaged segment. */
    private static BadStructure ended(byte[] f, int p) {
        for (int i = f.length - 2; i > p; i--)
            if ((f[i] & 0xFF) == 0xFF && (f[i + 1] & 0xFF) == 0xD9)
                return new BadStructure("corrupt JPEG (the segment or scan at byte " + p + " runs past the end-of-image marker)");
        return new BadStructure("truncated JPEG (no end-of-image marker)");
    }

    private static boolean startsWith(byte[] f, int at, int end, String s) {
        if (end - at < s.length()) return false;
        for (int i = 0; i < s.length(); i++) if ((f[at + i] & 0xFF) != s.charAt(i)) return false;
        return true;
    }

    /** The orientation tag (0x0112) of IFD0 in a TIFF block [t, end); 1 when absent or unreadable. */
    static int exifOrientation(byte[] f, int t, int end) {
        if (end - t < 8) return 1;
        boolean le = f[t] == 'I' && f[t + 1] == 'I';
        if (!le && !(f[t] == 'M' && f[t + 1] == 'M')) return 1;
        long ifd = u32(f, t + 4, le);
        if (ifd < 8 || t + ifd + 2 > end) return 1;
        int at = (int) (t + ifd);
        int entries = u16(f, at, le);
        for (int i = 0; i < entries; i++) {
            int e = at + 2 + 12 * i;
            if (e + 12 > end) return 1;
            if (u16(f, e, le) == 0x0112 && u16(f, e + 2, le) == 3) {
                int o = u16(f, e + 8, le);
                return o >= 1 && o <= 8 ? o : 1;
            }
        }
        return 1;
    }

    private static int u16(byte[] f, int at, boolean le) {
        int a = f[at] & 0xFF, b = f[at + 1] & 0xFF;
        return le ? a | b << 8 : a << 8 | b;
    }

    private static long u32(byte[] f, int at, boolean le) {
        long lo = u16(f, at, le), hi = u16(f, at + 2, le);
        return le ? lo | hi << 16 : lo << 16 | hi;
    }
}
