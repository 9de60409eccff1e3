package org.attnface.trainer.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.data.Split;
import org.attnface.trainer.train.TrainConfig;

/**
 * Which images {@code eval} scores: the part of the run's split that --split names, when the
 * checkpoint's folder holds split.json and --data holds those images; every image in --data when
 * there is no split.json, with --split all, or when --data holds none of the run's images (another
 * folder: nothing in it was trained on, so all of it is fair to score). When --data holds some of
 * the run's images but not all of the asked part, it refuses and says which option gives what the
 * user probably meant.
 */
record EvalImages(int[] indices, String title) {

    static int[] all(FaceSet set) {
        int[] idx = new int[set.count()];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        return idx;
    }

    /** Null when --data holds none of the run's images (then the caller loads and scores them all). */
    static EvalImages choose(FaceSet set, Path dataDir, Path runDir, String part, TrainConfig run, PrintStream log) throws IOException {
        Path splitFile = runDir.resolve("split.json");
        if (!Files.exists(splitFile) || part.equals("all")) return new EvalImages(all(set), "all " + set.count() + " images in " + dataDir);
        Split s = Split.load(splitFile);
        List<String> names = switch (part) {
            case "test" -> s.test();
            case "val" -> s.val();
            case "train" -> s.train();
            default -> throw new IllegalArgumentException("--split must be test, val, train or all, not '" + part + "'");
        };
        String partName = part.equals("val") ? "validation" : part.equals("train") ? "training" : part;
        Map<String, Integer> byName = set.indexByName();
        List<String> missing = new ArrayList<>();
        for (String n : names) if (!byName.containsKey(n)) missing.add(n);
        if (missing.isEmpty()) return new EvalImages(Split.indices(set, names, partName),
                part + " split of " + runDir.getFileName() + " (" + names.size() + " images)");
        Set<String> trainImages = new HashSet<>(s.train()), runImages = new HashSet<>(s.train());
        runImages.addAll(s.val());
        runImages.addAll(s.test());
        int trained = 0, inRun = 0;
        for (String n : set.names()) {
            if (runImages.contains(n)) inRun++;
            if (trainImages.contains(n)) trained++;
        }
        if (inRun == 0) {
            log.println("note: none of the " + set.count() + " images in " + dataDir + " is in the split of " + runDir.getFileName()
                    + (run != null && run.data() != null ? " (made on " + run.data() + ")" : "") + ": evaluating all of them, as --split all would");
            return null;
        }
        String from = run != null && run.data() != null ? run.data() : null;
        boolean sameFolder = from != null && Path.of(from).toAbsolutePath().normalize().equals(dataDir.toAbsolutePath().normalize());
        throw new IllegalArgumentException("the " + partName + " split of " + runDir.getFileName() + ": " + missing.size() + " of its "
                + names.size() + " images are not in " + dataDir + " (first: " + missing.getFirst() + "). To score every image in "
                + dataDir + ", add --split all (of the " + set.count() + " images there, " + trained + (trained == 1 ? " is" : " are")
                + " in the run's training split, which flatters the model)" + (from == null ? ""
                        : sameFolder ? "; the run was made on this folder: images were removed or renamed since"
                        : "; to score the run's " + part + " split, use --data " + from + ", the folder the run was made on"));
    }
}
