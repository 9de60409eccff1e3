package org.attnface.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.attnface.engine.io.Json;
import org.attnface.trainer.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `attnface experiments` run small: every variant trains on one shared split and lands in one table. */
class ExperimentsTest {
    @TempDir Path tmp;

    @Test
    void allResearchQuestionsLandInOneTable() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 120, 48, 31);
        Path out = tmp.resolve("rq");
        Cli.Outcome r = Cli.run(Cli.args("experiments", "--data", faces, "--out", out, "--epochs", 1, "--batch", 32, "--image-size", 32,
                "--threads", 2, "--cache-dir", tmp.resolve("cache")));
        assertEquals(0, r.exitCode(), r.all());
        List<?> rows = (List<?>) Json.parse(Files.readString(out.resolve("results.json")));
        assertEquals(7, rows.size());
        String split = Files.readString(out.resolve("split.json"));
        for (Object o : rows) {
            Map<?, ?> row = (Map<?, ?>) o;
            String v = (String) row.get("variant");
            assertEquals(split, Files.readString(out.resolve(v).resolve("split.json")), v + " used the shared split");
            if (v.equals("gender-only")) assertNull(row.get("age_bucket_accuracy"));
            if (v.equals("age-only")) assertNull(row.get("gender_accuracy"));
        }
        String md = Files.readString(out.resolve("results.md"));
        for (String q : List.of("| RQ1 | no-attention", "| RQ2 | gender-only", "| RQ2 | age-only", "| RQ3 | gender-not-fed", "| RQ4 | resnet", "| RQ4 | ensemble"))
            assertTrue(md.contains(q), q + " in\n" + md);
    }
}
