package org.attnface.trainer.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.attnface.engine.Device;
import org.attnface.engine.io.Json;
import org.attnface.engine.optim.Sgd;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.Arch;
import org.attnface.model.ModelConfig;
import org.attnface.model.Models;
import org.attnface.trainer.data.Split;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile run files (issue #6): 4,000 seeded mutations each of a run's config.json
 * ({@link TrainConfig#load}), its split.json ({@link Split#load}) and a checkpoint's metadata
 * ({@link Checkpoint#read} then the model config, training config and state in it): bit flips,
 * truncations, insertions, JSON values swapped for other types, huge numbers, deep nesting,
 * missing keys. Each must give a valid result or an IOException / IllegalArgumentException
 * with a message; anything else (NumberFormatException or ClassCastException escaping raw,
 * NullPointerException, StackOverflowError, OutOfMemoryError, a hang) fails the test.
 */
class ConfigFuzzTest {
    static final int CASES = 4_000;

    @TempDir Path dir;

    /** Counts of outcomes, printed and checked so both paths are exercised. */
    private int loaded, refused;

    @Test
    void mutatedConfigJsonLoadsOrIsRefusedCleanly() throws IOException {
        String valid = sampleConfig().toJson();
        Path file = dir.resolve("config.json");
        Files.writeString(file, valid);
        assertEquals(sampleConfig(), TrainConfig.load(file), "the unmutated config must load");
        run("config.json", valid, 11, text -> {
            Files.writeString(file, text);
            TrainConfig c = TrainConfig.load(file);
            assertEquals(c, TrainConfig.fromJson(c.toJson(), "round trip"), "a config that loads must round-trip");
            c.modelConfig();
        });
    }

    @Test
    void attnLrIsOptionalAndOnlyForTheEnsemble() {
        String json = sampleConfig().toJson();   // arch attn, attn_lr 0 (= lr)
        assertTrue(json.contains("\"attn_lr\":0.0"), json);
        TrainConfig old = TrainConfig.fromJson(json.replace(",\"attn_lr\":0.0", ""), "config.json of an older run");
        assertEquals(0f, old.attnLr());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.fromJson(json.replace("\"attn_lr\":0.0", "\"attn_lr\":0.002"), "attn.json"));
        assertTrue(e.getMessage().contains("attn.json") && e.getMessage().contains("only the ensemble"), e.getMessage());
        String ensemble = json.replace("\"arch\":\"attn\"", "\"arch\":\"ensemble\"");
        assertEquals(0.002f, TrainConfig.fromJson(ensemble.replace("\"attn_lr\":0.0", "\"attn_lr\":0.002"), "ensemble.json").attnLr());
        assertThrows(IllegalArgumentException.class, () -> TrainConfig.fromJson(ensemble.replace("\"attn_lr\":0.0", "\"attn_lr\":-1"), "bad.json"));
    }

    @Test
    void resnetShapeIsOptionalAndChecked() {
        String json = sampleConfig().toJson();
        assertTrue(json.contains("\"resnet_depth\":18,\"resnet_width\":64"), json);
        TrainConfig old = TrainConfig.fromJson(json.replace("\"resnet_depth\":18,\"resnet_width\":64,", ""), "config.json of an older run");
        assertEquals(18, old.modelConfig().resnetDepth());
        assertEquals(64, old.modelConfig().resnetWidth());
        TrainConfig narrow = TrainConfig.fromJson(json.replace("\"resnet_depth\":18,\"resnet_width\":64", "\"resnet_depth\":34,\"resnet_width\":32"), "c.json");
        assertEquals(34, narrow.modelConfig().resnetDepth());
        assertEquals(32, narrow.modelConfig().resnetWidth());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.fromJson(json.replace("\"resnet_depth\":18", "\"resnet_depth\":19"), "deep.json"));
        assertTrue(e.getMessage().contains("deep.json") && e.getMessage().contains("resnet_depth") && e.getMessage().contains("not 10, 18 or 34"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TrainConfig.fromJson(json.replace("\"resnet_width\":64", "\"resnet_width\":0"), "w.json"));
    }

    @Test
    void zeroInitResidualIsOptionalAndRoundTrips() {
        String json = sampleConfig().toJson();
        assertTrue(json.contains("\"zero_init_residual\":false"), json);
        assertTrue(TrainConfig.fromJson(json.replace("\"zero_init_residual\":false", "\"zero_init_residual\":true"), "z.json").zeroInitResidual());
        assertTrue(!TrainConfig.fromJson(json.replace("\"zero_init_residual\":false,", ""), "config.json of an older run").zeroInitResidual());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.fromJson(json.replace("\"zero_init_residual\":false", "\"zero_init_residual\":1"), "z.json"));
        assertTrue(e.getMessage().contains("zero_init_residual"), e.getMessage());
    }

    @Test
    void mutatedSplitJsonLoadsOrIsRefusedCleanly() throws IOException {
        List<String> train = new ArrayList<>(), val = new ArrayList<>(), test = new ArrayList<>();
        for (int i = 0; i < 20; i++) (i < 14 ? train : i < 17 ? val : test).add((20 + i) + "_" + (i % 2) + "_0_2017010" + i + ".jpg");
        Path file = dir.resolve("split.json");
        new Split(42, 0.7, 0.15, train, val, test).save(file);
        String valid = Files.readString(file);
        assertEquals(train, Split.load(file).train(), "the unmutated split must load");
        run("split.json", valid, 12, text -> {
            Files.writeString(file, text);
            Split s = Split.load(file);
            assertTrue(s.trainFraction() > 0 && s.trainFraction() + s.valFraction() <= 1);
        });
    }

    @Test
    void mutatedCheckpointMetadataLoadsOrIsRefusedCleanly() throws IOException {
        // One real checkpoint of a tiny attn model, written by the trainer's own code, gives the metadata to mutate.
        ModelConfig mc = ModelConfig.defaults(Arch.ATTN, ModelConfig.MIN_IMAGE_SIZE);
        AgeGenderModel model = Models.create(mc, Device.CPU, 7);
        Sgd opt = new Sgd(model.parameters(), 0.01f, 0.9f, 0f);
        Path real = dir.resolve("real.safetensors");
        Checkpoint.save(real, model, opt, sampleConfig(), new Checkpoint.State(12, 1, 0.5, 1, new LossSums(12, 3.25, 1.5, 1.25, 0.5, 0)));
        Checkpoint.Loaded back = Checkpoint.read(real);
        assertEquals(mc, back.modelConfig());
        assertEquals(sampleConfig(), back.trainConfig());
        back.loadModel(model);
        Map<String, Object> meta = new LinkedHashMap<>(back.meta());
        // The fuzzed files carry the real metadata beside one small tensor: the metadata is what is under test
        // (SafetensorsFuzzTest covers the tensor layout), and small files keep 4,000 cases fast.
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", meta);
        header.put("w", Map.of("dtype", "F32", "shape", List.of(1), "data_offsets", List.of(0, 4)));
        Path file = dir.resolve("fuzz.safetensors");
        run("checkpoint metadata", Json.write(header), 13, text -> {
            Files.write(file, safetensors(text));
            Checkpoint.Loaded c = Checkpoint.read(file);
            c.modelConfig();
            c.trainConfig();
            c.state();
        });
    }

    interface Case { void load(String text) throws IOException; }

    private void run(String what, String valid, long seed, Case loader) {
        Random r = new Random(20261129L * seed);
        long t0 = System.nanoTime();
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            for (int c = 0; c < CASES; c++) {
                String text = mutate(valid, r);
                try {
                    loader.load(text);
                    loaded++;
                } catch (IOException | IllegalArgumentException e) {
                    if (e.getClass() == NumberFormatException.class) fail(what + " case " + c + " let a raw NumberFormatException out: " + e, e);
                    assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), what + " case " + c + ": " + e.getClass() + " without a message");
                    refused++;
                } catch (Throwable t) {
                    fail(what + " case " + c + " threw " + t + " on: " + (text.length() > 400 ? text.substring(0, 400) + "..." : text), t);
                }
            }
        }, what + " fuzzing took longer than 20 s: a loader hangs or is quadratic");
        System.out.printf("%s fuzz: %d cases, %d loaded, %d refused with a message, %.1f s%n", what, CASES, loaded, refused, (System.nanoTime() - t0) / 1e9);
        assertTrue(loaded > 50 && refused > 1000, what + ": the mutations should exercise both outcomes (" + loaded + " loaded, " + refused + " refused)");
    }

    static TrainConfig sampleConfig() {
        return new TrainConfig("/data/utkface", Arch.ATTN, 3, 16, 0.01f, 0f, OptimizerKind.SGD, 0.9f, 5e-4f, 10, 64, 72, "0,10,20,30,40,50,60,70",
                18, 64, 10, true, true, false, 1f, 1f, 0.5f, 0f, false, "cpu", 2, 42L, 0, 0, 1, 0f, 0.7, 0.15, "/tmp/cache", -1L);
    }

    /** A safetensors file with {@code header} (possibly broken JSON) and one 4-byte tensor. */
    static byte[] safetensors(String header) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).putFloat(1f);
        return b.array();
    }

    /** Values a JSON field is swapped for: other types, huge and odd numbers, deep nesting. */
    static Object oddValue(Random r) {
        return switch (r.nextInt(16)) {
            case 0 -> null;
            case 1 -> true;
            case 2 -> "";
            case 3 -> "x";
            case 4 -> 1e308;
            case 5 -> -1L;
            case 6 -> 0L;
            case 7 -> 3.5;
            case 8 -> Long.MAX_VALUE;
            case 9 -> Long.MIN_VALUE;
            case 10 -> (long) Integer.MAX_VALUE + 1;
            case 11 -> List.of(1L, "a");
            case 12 -> Map.of("k", 1L);
            case 13 -> "99999999999999999999999";
            case 14 -> "NaN";
            default -> -1e-300;
        };
    }

    private static final String JSON_CHARS = "\",:{}[]0-9e.\\nulltrue";

    /** One mutation of {@code valid}, chosen by {@code r}. */
    static String mutate(String valid, Random r) {
        int kind = r.nextInt(10);
        if (kind < 5) {
            // structural: swap, delete or stringify one value (nested one level for the checkpoint's metadata object)
            Object parsed = Json.parse(valid);
            @SuppressWarnings("unchecked") Map<String, Object> top = (Map<String, Object>) parsed;
            Map<String, Object> target = top;
            if (top.get("__metadata__") instanceof Map<?, ?> meta && r.nextInt(8) != 0) {
                @SuppressWarnings("unchecked") Map<String, Object> m = new LinkedHashMap<>((Map<String, Object>) meta);
                top.put("__metadata__", m);
                target = m;
                String tc = (String) m.get("train_config");
                if (tc != null && r.nextInt(4) == 0) { m.put("train_config", mutate(tc, r)); return Json.write(top); }
            }
            List<String> keys = new ArrayList<>(target.keySet());
            String key = keys.get(r.nextInt(keys.size()));
            switch (kind) {
                case 0 -> target.remove(key);
                case 1, 2 -> target.put(key, oddValue(r));
                case 3 -> target.put(key, String.valueOf(oddValue(r)));
                default -> target.put(key, target == top ? nudged(target.get(key), r) : String.valueOf(nudged(numberOrSelf(target.get(key)), r)));
            }
            return Json.write(top);
        }
        StringBuilder s = new StringBuilder(valid);
        switch (kind) {
            case 5 -> { for (int k = 1 + r.nextInt(4); k > 0; k--) { int p = r.nextInt(s.length()); s.setCharAt(p, (char) (s.charAt(p) ^ (1 << r.nextInt(7)))); } }
            case 6 -> s.setLength(r.nextInt(s.length()));
            case 7 -> s.insert(r.nextInt(s.length() + 1), JSON_CHARS.charAt(r.nextInt(JSON_CHARS.length())));
            case 8 -> { int depth = 1 + r.nextInt(20_000); s.insert(r.nextInt(s.length() + 1), "[".repeat(depth) + "]".repeat(depth)); }
            default -> { int p = s.indexOf(":", r.nextInt(s.length())); if (p >= 0) s.insert(p + 1, "1" + "0".repeat(r.nextInt(400)) + ","); }
        }
        return s.toString();
    }

    private static Object numberOrSelf(Object v) {
        if (v instanceof String str) {
            try { return Double.parseDouble(str); } catch (NumberFormatException e) { return str; }
        }
        return v;
    }

    /** A number pushed to an edge (negated, zero, scaled far out); other values pass through. */
    private static Object nudged(Object v, Random r) {
        if (!(v instanceof Number n)) return v;
        double d = n.doubleValue();
        return switch (r.nextInt(5)) {
            case 0 -> -d;
            case 1 -> 0L;
            case 2 -> d * 1e12;
            case 3 -> d + 0.5;
            default -> (long) d + 1;
        };
    }
}
