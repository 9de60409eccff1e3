package org.attnface.trainer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.attnface.trainer.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #32: every entry of a data folder is accounted for. A folder of faces plus every
 * kind of entry that is not a face (dotfiles, AppleDouble files, folders, one named like a
 * face, symlinks to a file, to a folder, dangling and looping, a FIFO, a socket, duplicates
 * with the same and with different labels, names out of range): the summary's counts add
 * up to what {@code ls -A} lists, each entry that is not a plain file has a line (past ten of
 * a kind, one line for the rest), and the duplicate groups are named.
 */
class FolderAccountingTest {
    @TempDir Path tmp;

    @Test
    void theSummaryCountsEveryEntryAndTheCountsAddUpToLsA() throws Exception {
        Path dir = tmp.resolve("faces");
        List<Path> faces = TestData.synthesize(dir, 8, 60, 32);
        byte[] face = Files.readAllBytes(faces.getFirst());
        List<Path> extra = TestData.synthesize(tmp.resolve("extra"), 2, 60, 33);   // other faces, outside the folder
        // plain files that are not faces
        Files.writeString(dir.resolve(".DS_Store"), "x");
        for (int i = 0; i < 12; i++) Files.writeString(dir.resolve(".hidden" + i), "x");     // past ten: one line for the rest
        Files.write(dir.resolve("._" + faces.get(1).getFileName()), new byte[] {0, 5, 22, 7});
        Files.write(dir.resolve("30_1_5_20170101000000001.jpg.chip.jpg"), Files.readAllBytes(extra.get(0)));  // race 5: kept, race unknown
        Files.write(dir.resolve("117_1_0_20170101000000002.jpg.chip.jpg"), face);                            // age out of range: skipped
        // duplicates: same labels, and different labels
        String first = faces.getFirst().getFileName().toString();
        Files.write(dir.resolve(first.replace(".jpg.chip.jpg", "9.jpg.chip.jpg")), face);
        Files.write(dir.resolve("99_1_4_20170101000000099.jpg.chip.jpg"), Files.readAllBytes(faces.get(3)));
        // not plain files
        Files.createDirectory(dir.resolve("sub"));
        Files.createDirectory(dir.resolve("40_0_0_20170101000000003.jpg.chip.jpg"));                          // a folder named like a face
        Files.createSymbolicLink(dir.resolve("41_0_1_20170101000000004.jpg.chip.jpg"), extra.get(1).toAbsolutePath());   // to a file: used
        Files.createSymbolicLink(dir.resolve("link-to-folder"), dir.resolve("sub"));
        Files.createSymbolicLink(dir.resolve("42_1_1_20170101000000005.jpg.chip.jpg"), dir.resolve("absent.jpg"));    // dangling
        Files.createSymbolicLink(dir.resolve("loop-a"), dir.resolve("loop-b"));
        Files.createSymbolicLink(dir.resolve("loop-b"), dir.resolve("loop-a"));
        Files.createSymbolicLink(dir.resolve("loop-self"), dir.resolve("loop-self"));
        boolean fifo = mkfifo(dir.resolve("43_0_2_20170101000000006.jpg.chip.jpg"));
        try (ServerSocketChannel socket = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            socket.bind(UnixDomainSocketAddress.of(dir.resolve("44_1_3_20170101000000007.jpg.chip.jpg")));

            ByteArrayOutputStream b = new ByteArrayOutputStream();
            FaceSet set;
            try (PrintStream log = new PrintStream(b, true, StandardCharsets.UTF_8)) {
                set = FaceFolder.load(new FaceFolder.Request(dir, 40, 0, tmp.resolve("cache"), 2), log);
            }
            String log = b.toString(StandardCharsets.UTF_8);
            System.out.println(log);
            int lsA = lsA(dir);
            Matcher m = Pattern.compile("(\\d+) entries: (\\d+) images kept at 40x40; skipped (\\d+) \\(unreadable names (\\d+), undecodable (\\d+)\\), "
                    + "(\\d+) duplicates dropped, (\\d+) left out by --limit, (\\d+) entries not read \\(([^)]*)\\)").matcher(log);
            assertTrue(m.find(), "no summary line in:\n" + log);
            int entries = Integer.parseInt(m.group(1)), kept = Integer.parseInt(m.group(2)), skipped = Integer.parseInt(m.group(3));
            int dups = Integer.parseInt(m.group(6)), leftOut = Integer.parseInt(m.group(7)), notRead = Integer.parseInt(m.group(8));
            assertEquals(lsA, entries, "the summary counts what ls -A lists");
            assertEquals(entries, kept + skipped + dups + leftOut + notRead, "the counts add up");
            assertEquals(Integer.parseInt(m.group(4)) + Integer.parseInt(m.group(5)), skipped);
            assertEquals(set.count(), kept);
            // 8 faces + race 5 + the symlinked face; the age-117 copy is skipped by name before it could count as a duplicate
            assertEquals(10, kept);
            assertEquals(2, dups);
            int kinds = 0;
            for (String part : m.group(9).split(", ")) kinds += Integer.parseInt(part.split(" ")[0]);
            assertEquals(notRead, kinds, "the kinds add up to the entries not read: " + m.group(9));

            assertLine(log, "skip .DS_Store: hidden file");
            assertLine(log, "skip 3 more hidden files (not named)");               // 13 hidden files: ten named
            assertLine(log, "skip ._" + faces.get(1).getFileName() + ": AppleDouble file");
            assertLine(log, "skip sub: folder");
            assertLine(log, "skip 40_0_0_20170101000000003.jpg.chip.jpg: folder");
            assertLine(log, "skip link-to-folder: symlink to a folder");
            assertLine(log, "skip 42_1_1_20170101000000005.jpg.chip.jpg: dangling symlink");
            assertLine(log, "skip loop-a: symlink loop");
            assertLine(log, "skip loop-b: symlink loop");
            assertLine(log, "skip loop-self: symlink loop");
            if (fifo) assertLine(log, "skip 43_0_2_20170101000000006.jpg.chip.jpg: FIFO (named pipe)");
            assertLine(log, "skip 44_1_3_20170101000000007.jpg.chip.jpg: socket");
            assertLine(log, "skip 117_1_0_20170101000000002.jpg.chip.jpg: age 117 is outside 0-116");
            assertLine(log, "kept 30_1_5_20170101000000001.jpg.chip.jpg: malformed name (race 5 is outside 0-4");
            assertLine(log, "duplicates: 2 groups of byte-identical files, 2 files dropped (first name of each kept); 1 groups have different age or gender labels");
            String other = faces.get(3).getFileName().toString();
            String dupDiffer = other.compareTo("99_1_4_20170101000000099.jpg.chip.jpg") < 0
                    ? other + " (kept), 99_1_4_20170101000000099.jpg.chip.jpg" : "99_1_4_20170101000000099.jpg.chip.jpg (kept), " + other;
            assertLine(log, "  duplicates with different age or gender labels: " + dupDiffer);
            assertLine(log, "  duplicates: " + first + " (kept), " + first.replace(".jpg.chip.jpg", "9.jpg.chip.jpg"));
            assertTrue(set.indexByName().containsKey("41_0_1_20170101000000004.jpg.chip.jpg"), "a symlink to a face is read");
        }
    }

    @Test
    void namesThatAreNotImageFilesAreRefusedBeforeAnyRead() throws Exception {
        Path f = Files.writeString(tmp.resolve("a.jpg"), "x");
        assertNull(ImageFiles.whyNotAFile(f));
        assertNull(ImageFiles.whyNotAFile(tmp.resolve("absent.jpg")), "a missing file is the caller's 'no such file'");
        assertEquals("is a folder, not a regular file", ImageFiles.whyNotAFile(Files.createDirectory(tmp.resolve("d.jpg"))));
        if (Files.exists(Path.of("/dev/null"))) assertEquals("is a device file, not a regular file", ImageFiles.whyNotAFile(Path.of("/dev/null")));
        Path fifo = tmp.resolve("p.jpg");
        if (mkfifo(fifo)) assertEquals("is a FIFO (named pipe), not a regular file", ImageFiles.whyNotAFile(fifo));
        Path link = Files.createSymbolicLink(tmp.resolve("l.jpg"), f);
        assertNull(ImageFiles.whyNotAFile(link));
    }

    static boolean mkfifo(Path p) throws InterruptedException {
        try {
            Process proc = new ProcessBuilder("mkfifo", p.toString()).redirectErrorStream(true).start();
            return proc.waitFor(10, TimeUnit.SECONDS) && proc.exitValue() == 0;
        } catch (IOException e) {
            return false;   // no mkfifo on this system: the FIFO case is left out
        }
    }

    private static int lsA(Path dir) throws Exception {
        Process p = new ProcessBuilder("ls", "-A", "-1", dir.toString()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return (int) out.lines().filter(l -> !l.isEmpty()).count();
    }

    private static void assertLine(String log, String prefix) {
        assertTrue(log.lines().anyMatch(l -> l.startsWith(prefix)), "no line starting with '" + prefix + "' in:\n" + log);
    }
}
