package org.attnface.trainer.data;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.awt.color.ColorSpace;
import java.awt.color.ICC_Profile;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import org.attnface.trainer.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #32: every JPEG that libjpeg-turbo decodes, attnface decodes within 4 levels per
 * channel of djpeg's pixels, or refuses with a reason; it is never silently wrong. The
 * variants are made at test time, from real UTKFace faces, by libjpeg-turbo's own cjpeg and
 * jpegtran (restart markers, every subsampling, progressive, gray, RGB with and without the
 * Adobe marker, arithmetic coding) and by editing segments (no JFIF block, an ICC profile,
 * comments, EXIF orientations, data after the end-of-image marker, truncation, corruption).
 * 4 levels: two decoders of the same coefficients differ only in IDCT rounding and in how
 * they interpolate chroma; ImageIO matches djpeg to the bit on all but 4:4:0.
 */
class JpegDifferentialTest {
    @TempDir Path tmp;

    static final int TOLERANCE = 4;
    /** Variants attnface may refuse with a reason (libjpeg-turbo decodes them; this decoder does not). */
    static final Set<String> MAY_REFUSE = Set.of("arithmetic", "arithmetic progressive", "sample 1x2 (4:4:0)", "CMYK", "YCCK (Adobe transform 2)");

    record Pixels(int width, int height, int[] rgb) {}

    @Test
    void everyVariantDecodesWithinFourLevelsOfDjpegOrIsRefused() throws Exception {
        Path faces = TestData.utkface();
        assumeTrue(faces != null, TestData.NO_UTKFACE);
        for (String tool : List.of("cjpeg", "djpeg", "jpegtran"))
            assumeTrue(onPath(tool), tool + " not found on PATH (libjpeg-turbo-progs; .ci/run installs it)");
        List<Path> picked = pick(faces, 4);
        List<String> failures = new ArrayList<>();
        int decoded = 0, refused = 0;
        for (Path face : picked) {
            Map<String, byte[]> variants = variants(face);
            for (Map.Entry<String, byte[]> v : variants.entrySet()) {
                String what = face.getFileName() + " / " + v.getKey();
                Path file = tmp.resolve("variant.jpg");
                Files.write(file, v.getValue());
                Reference ref = djpeg(file);
                FaceDecoder.Decoded d;
                try {
                    d = FaceDecoder.decode(v.getValue(), "variant.jpg");
                } catch (UnusableImageException e) {
                    refused++;
                    System.out.printf("%-70s refused: %s%n", what, e.getMessage());
                    if (e.getMessage() == null || e.getMessage().isBlank()) failures.add(what + ": refused without a reason");
                    if (ref.clean() && !MAY_REFUSE.contains(v.getKey()) && !v.getKey().startsWith("damaged"))
                        failures.add(what + ": libjpeg-turbo decodes it, attnface refused it (" + e.getMessage() + ")");
                    continue;
                }
                decoded++;
                if (!ref.clean()) {
                    failures.add(what + ": libjpeg-turbo reports damage (" + ref.stderr().strip() + ") but attnface decoded it");
                    continue;
                }
                Pixels want = v.getKey().startsWith("EXIF orientation") ? djpeg(transformed(v.getKey(), variants.get("sample 1x1 (4:4:4)"))).pixels() : ref.pixels();
                String diff = compare(d, want);
                System.out.printf("%-70s %s%s%n", what, diff, d.note() == null ? "" : " (" + d.note() + ")");
                if (!diff.startsWith("max ") || Integer.parseInt(diff.split(" ")[1]) > TOLERANCE) failures.add(what + ": " + diff);
            }
        }
        System.out.printf("JPEG differential: %d faces, %d decoded, %d refused%n", picked.size(), decoded, refused);
        assertTrue(failures.isEmpty(), String.join("\n", failures));
        assertTrue(decoded > 20 * picked.size(), "most variants should decode");
    }

    /** The variants of one face, by name. */
    private Map<String, byte[]> variants(Path face) throws Exception {
        Path ppm = tmp.resolve("face.ppm");
        Files.write(ppm, run(null, "djpeg", "-pnm", face.toString()).stdout());
        Map<String, byte[]> v = new LinkedHashMap<>();
        byte[] original = Files.readAllBytes(face);
        v.put("original", original);
        v.put("restart every row", cjpeg(ppm, "-restart", "1"));
        v.put("restart every 3 blocks", cjpeg(ppm, "-restart", "3B"));
        v.put("restart added by jpegtran", jpegtran(face, "-restart", "2"));
        v.put("sample 1x1 (4:4:4)", cjpeg(ppm, "-sample", "1x1"));
        v.put("sample 2x1 (4:2:2)", cjpeg(ppm, "-sample", "2x1"));
        v.put("sample 2x2 (4:2:0)", cjpeg(ppm, "-sample", "2x2"));
        v.put("sample 4x1 (4:1:1)", cjpeg(ppm, "-sample", "4x1"));
        v.put("sample 1x2 (4:4:0)", cjpeg(ppm, "-sample", "1x2"));
        v.put("sample 2x4", cjpeg(ppm, "-sample", "2x4"));
        v.put("sample 4x2", cjpeg(ppm, "-sample", "4x2"));
        v.put("sample 2x2, restart every row, quality 95", cjpeg(ppm, "-sample", "2x2", "-restart", "1", "-quality", "95"));
        v.put("progressive", cjpeg(ppm, "-progressive"));
        v.put("progressive by jpegtran", jpegtran(face, "-progressive"));
        v.put("progressive 4:4:4 with restarts", cjpeg(ppm, "-progressive", "-sample", "1x1", "-restart", "1"));
        v.put("optimized Huffman tables", cjpeg(ppm, "-optimize"));
        v.put("grayscale", cjpeg(ppm, "-grayscale"));
        v.put("grayscale progressive", cjpeg(ppm, "-grayscale", "-progressive"));
        v.put("RGB (Adobe transform 0)", cjpeg(ppm, "-rgb"));
        v.put("RGB without Adobe marker (ids R,G,B)", withoutSegment(cjpeg(ppm, "-rgb"), 0xEE));
        // conflicting colour signals, resolved as libjpeg-turbo does (JFIF first, then Adobe, then the component ids)
        v.put("RGB data with a JFIF block added (read as YCbCr)", withSegment(cjpeg(ppm, "-rgb"), jfif()));
        v.put("YCbCr data flagged RGB by an Adobe marker", withSegment(withoutSegment(original, 0xE0), adobe(0)));
        v.put("no JFIF block", withoutSegment(original, 0xE0));
        v.put("no JFIF block, 4:4:4", withoutSegment(cjpeg(ppm, "-sample", "1x1"), 0xE0));
        v.put("Adobe YCbCr (transform 1), no JFIF", withSegment(withoutSegment(original, 0xE0), adobe(1)));
        v.put("arithmetic", cjpeg(ppm, "-arithmetic"));
        v.put("arithmetic progressive", cjpeg(ppm, "-arithmetic", "-progressive"));
        Path icc = tmp.resolve("linear.icc");
        Files.write(icc, ICC_Profile.getInstance(ColorSpace.CS_LINEAR_RGB).getData());
        v.put("ICC profile (linear RGB)", cjpeg(ppm, "-icc", icc.toString()));
        v.put("comment and APP15", withSegment(withSegment(original, segment(0xFE, "made by a test".getBytes())), segment(0xEF, new byte[40])));
        Random r = new Random(face.getFileName().toString().hashCode());
        byte[] junk = new byte[2048];
        r.nextBytes(junk);
        v.put("2 KiB after the end-of-image marker", concat(original, junk));
        v.put("a second JPEG after the end-of-image marker", concat(original, original));
        byte[] cmyk = TestData.cmykJpeg(64);
        if (cmyk != null) {
            v.put("CMYK", cmyk);
            v.put("YCCK (Adobe transform 2)", withSegment(withoutSegment(cmyk, 0xEE), adobe(2)));
        }
        byte[] s444 = v.get("sample 1x1 (4:4:4)");
        for (int o = 2; o <= 8; o++) v.put("EXIF orientation " + o, withSegment(s444, exif(o, r.nextBoolean())));
        v.put("damaged: truncated in the scan", Arrays.copyOf(original, original.length * 2 / 3));
        byte[] garbled = original.clone();
        for (int i = garbled.length / 2; i < garbled.length / 2 + 64; i++) garbled[i] = (byte) r.nextInt(256);
        v.put("damaged: 64 random bytes in the scan", garbled);
        return v;
    }

    /** What djpeg makes of the orientation's jpegtran transform of the 4:4:4 variant: the upright image, by an independent tool. */
    private Path transformed(String variant, byte[] s444) throws Exception {
        int o = Integer.parseInt(variant.substring(variant.length() - 1));
        String[] op = switch (o) {
            case 2 -> new String[] {"-flip", "horizontal"};
            case 3 -> new String[] {"-rotate", "180"};
            case 4 -> new String[] {"-flip", "vertical"};
            case 5 -> new String[] {"-transpose"};
            case 6 -> new String[] {"-rotate", "90"};
            case 7 -> new String[] {"-transverse"};
            default -> new String[] {"-rotate", "270"};
        };
        Path in = tmp.resolve("upright-in.jpg"), out = tmp.resolve("upright.jpg");
        Files.write(in, s444);
        List<String> cmd = new ArrayList<>(List.of("jpegtran", "-perfect"));
        cmd.addAll(List.of(op));
        cmd.add(in.toString());
        Files.write(out, run(null, cmd.toArray(String[]::new)).stdout());
        return out;
    }

    private static String compare(FaceDecoder.Decoded d, Pixels want) {
        if (d.width() != want.width() || d.height() != want.height())
            return "size " + d.width() + "x" + d.height() + ", djpeg " + want.width() + "x" + want.height();
        int max = 0;
        long sum = 0;
        for (int i = 0; i < want.rgb().length; i++) {
            int diff = Math.abs((d.rgb()[i] & 0xFF) - want.rgb()[i]);
            max = Math.max(max, diff);
            sum += diff;
        }
        return String.format(Locale.ROOT, "max %d mean %.3f", max, sum / (double) want.rgb().length);
    }

    record Reference(Pixels pixels, String stderr, boolean clean) {}

    /** djpeg's pixels; clean when it decoded without an error or a warning (exit 0, nothing on stderr). */
    private static Reference djpeg(Path file) throws Exception {
        Result r = run(null, "djpeg", "-pnm", file.toString());
        boolean clean = r.exit() == 0 && r.stderr().isBlank() && r.stdout().length > 0;
        return new Reference(clean ? pnm(r.stdout()) : null, r.stderr(), clean);
    }

    private static Pixels pnm(byte[] b) {
        String[] tok = new String[4];
        int pos = 0;
        for (int t = 0; t < 4; t++) {
            while (Character.isWhitespace(b[pos])) pos++;
            int s = pos;
            while (!Character.isWhitespace(b[pos])) pos++;
            tok[t] = new String(b, s, pos - s);
        }
        pos++;
        int w = Integer.parseInt(tok[1]), h = Integer.parseInt(tok[2]);
        boolean gray = tok[0].equals("P5");
        int[] rgb = new int[w * h * 3];
        for (int i = 0; i < w * h; i++)
            for (int c = 0; c < 3; c++) rgb[3 * i + c] = b[pos + (gray ? i : 3 * i + c)] & 0xFF;
        return new Pixels(w, h, rgb);
    }

    private byte[] cjpeg(Path ppm, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("cjpeg"));
        cmd.addAll(List.of(args));
        cmd.add(ppm.toString());
        return run(null, cmd.toArray(String[]::new)).stdout();
    }

    private byte[] jpegtran(Path jpeg, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("jpegtran"));
        cmd.addAll(List.of(args));
        cmd.add(jpeg.toString());
        return run(null, cmd.toArray(String[]::new)).stdout();
    }

    record Result(int exit, byte[] stdout, String stderr) {}

    private static Result run(byte[] stdin, String... cmd) throws Exception {
        Path err = Files.createTempFile("djpeg", ".err");
        try {
            Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
            if (stdin != null) p.getOutputStream().write(stdin);
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            int exit = p.waitFor();
            Result r = new Result(exit, out, Files.readString(err));
            if (!cmd[0].equals("djpeg") && (exit != 0 || out.length == 0))
                throw new IOException(String.join(" ", cmd) + " failed (exit " + exit + "): " + r.stderr());
            return r;
        } finally {
            Files.deleteIfExists(err);
        }
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) return true;
        return false;
    }

    /** n faces spread over the folder (every k-th name), so ages, races and sources vary. */
    private static List<Path> pick(Path dir, int n) throws IOException {
        List<Path> all = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.jpg")) {
            for (Path p : ds) all.add(p);
        }
        all.sort(null);
        List<Path> out = new ArrayList<>();
        for (int i = 0; i < n && !all.isEmpty(); i++) out.add(all.get((int) ((long) i * all.size() / n + 17) % all.size()));
        return out;
    }

    // --- segment editing ---

    static byte[] segment(int marker, byte[] body) {
        byte[] s = new byte[4 + body.length];
        s[0] = (byte) 0xFF;
        s[1] = (byte) marker;
        s[2] = (byte) ((body.length + 2) >> 8);
        s[3] = (byte) (body.length + 2);
        System.arraycopy(body, 0, s, 4, body.length);
        return s;
    }

    static byte[] jfif() {
        return segment(0xE0, new byte[] {'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0});
    }

    static byte[] adobe(int transform) {
        return segment(0xEE, new byte[] {'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, (byte) transform});
    }

    /** An APP1 EXIF block whose IFD0 holds an orientation tag (after another tag), in either byte order. */
    static byte[] exif(int orientation, boolean littleEndian) {
        ByteBuffer t = ByteBuffer.allocate(6 + 38).order(littleEndian ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
        t.put(new byte[] {'E', 'x', 'i', 'f', 0, 0});
        byte order = (byte) (littleEndian ? 'I' : 'M');
        t.put(order).put(order).putShort((short) 42).putInt(8).putShort((short) 2);
        t.putShort((short) 0x010F).putShort((short) 2).putInt(4).put(new byte[] {'a', 't', 't', 0});   // Make: ASCII, inline
        t.putShort((short) 0x0112).putShort((short) 3).putInt(1).putShort((short) orientation).putShort((short) 0);
        t.putInt(0);                                                                                   // no next IFD
        return segment(0xE1, t.array());
    }

    /** The file with a segment inserted right after SOI. */
    static byte[] withSegment(byte[] jpeg, byte[] seg) {
        byte[] out = new byte[jpeg.length + seg.length];
        System.arraycopy(jpeg, 0, out, 0, 2);
        System.arraycopy(seg, 0, out, 2, seg.length);
        System.arraycopy(jpeg, 2, out, 2 + seg.length, jpeg.length - 2);
        return out;
    }

    /** The file without its header segments of one marker (before the first scan). */
    static byte[] withoutSegment(byte[] jpeg, int marker) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(jpeg, 0, 2);
        int p = 2;
        while (p + 4 <= jpeg.length && (jpeg[p + 1] & 0xFF) != 0xDA) {
            int len = ((jpeg[p + 2] & 0xFF) << 8) | (jpeg[p + 3] & 0xFF);
            if ((jpeg[p + 1] & 0xFF) != marker) out.write(jpeg, p, 2 + len);
            p += 2 + len;
        }
        out.write(jpeg, p, jpeg.length - p);
        return out.toByteArray();
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
