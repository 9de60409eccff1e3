package org.attnface.trainer.train;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import org.attnface.engine.Tensor;
import org.attnface.engine.backend.Rng;
import org.attnface.engine.dist.DistException;
import org.attnface.engine.dist.GradientReducer;
import org.attnface.engine.dist.World;
import org.attnface.engine.io.Json;
import org.attnface.engine.nn.Module;
import org.attnface.engine.optim.Optimizer;
import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.data.Split;

/**
 * What the trainer does differently on N ranks (engine/dist holds MPI and the all-reduce):
 * each global batch of {@code --batch} B images is cut into N contiguous shares, rank r taking
 * [r B / N, (r+1) B / N) (sizes differ by at most one), so every image is used once;
 * ranks agree on code, config and data before they start; rank 0's weights, buffers and
 * optimiser state are the ones every rank starts from (the DDP broadcast), so a checkpoint
 * written by 1 rank resumes on 4 and back; validation is split the same way and gathered.
 * With one rank every method here returns its input unchanged.
 */
public final class DataParallel {
    final World world;

    public DataParallel(World world) { this.world = world; }

    public boolean distributed() { return world.distributed(); }

    public boolean root() { return world.isRoot(); }

    public World world() { return world; }

    /** This rank's share of a global batch (or of the validation images): [r n / N, (r+1) n / N). */
    public int[] shard(int[] global) {
        if (!world.distributed()) return global;
        int n = global.length, r = world.rank(), size = world.size();
        return java.util.Arrays.copyOfRange(global, (int) ((long) r * n / size), (int) ((long) (r + 1) * n / size));
    }

    /** Where this rank's share of {@code n} rows starts. */
    public int shardStart(int n) { return (int) ((long) world.rank() * n / world.size()); }

    /** The augmentation seed of this rank's share: rank 0 keeps the single-process seed, so a world of one is unchanged. */
    public long augmentSeed(long stepSeed) { return world.rank() == 0 ? stepSeed : Rng.derive(stepSeed, world.rank()); }

    /** Dropout's call counter for a step: each rank draws its own masks (2^40 steps apart), rank 0 the single-process ones. */
    public long dropoutStep(long step) { return step + ((long) world.rank() << 40); }

    public GradientReducer reducer(Optimizer opt, List<Tensor> parameters) {
        return new GradientReducer(world, parameters, opt.flatGrads());
    }

    // ---- agreement at start-up ---------------------------------------------------------------

    /**
     * Refuses to start when a rank's code, training config or data differ from rank 0's: every
     * rank compares its description with rank 0's, the ones that differ say what differs, and
     * all stop together (a rank that trained on other data would silently corrupt the average).
     */
    public void checkSameRun(TrainConfig cfg, FaceSet set) {
        if (!world.distributed()) return;
        Map<String, String> mine = description(cfg, set);
        // Ranks reach this after loading the faces, each at its own pace (the first one on a machine may have decoded
        // them): ten times the collective timeout, 10 minutes by default.
        byte[] rootBytes = world.broadcast(Json.write(new LinkedHashMap<String, Object>(mine)).getBytes(StandardCharsets.UTF_8), "the start-up check",
                10 * world.timeoutSeconds());
        @SuppressWarnings("unchecked")
        Map<String, Object> root = (Map<String, Object>) Json.parse(new String(rootBytes, StandardCharsets.UTF_8));
        List<String> differs = new ArrayList<>();
        for (Map.Entry<String, String> e : mine.entrySet()) {
            Object theirs = root.get(e.getKey());
            if (!e.getValue().equals(theirs)) differs.add(describeDifference(e.getKey(), String.valueOf(theirs), e.getValue()));
        }
        if (!differs.isEmpty())
            System.err.println("attnface " + world.describe() + " differs from rank 0: " + String.join("; ", differs));
        double bad = world.max(differs.isEmpty() ? 0 : 1, "the start-up check");
        if (bad > 0) throw new DistException(differs.isEmpty()
                ? "another rank's code, config or data differ from rank 0's (its message above says what); all ranks must run the same "
                        + "attnface build on the same data with the same options"
                : "this rank's " + String.join("; ", differs) + "; all ranks must run the same attnface build on the same data with the same options");
    }

    /** The code (the jar's SHA-256), the config (minus per-machine paths and thread counts) and the data (labels and image hashes). */
    static Map<String, String> description(TrainConfig cfg, FaceSet set) {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("code", codeVersion());
        Map<String, Object> c = new TreeMap<>(cfg.toMap());
        for (String perMachine : List.of("data", "cache_dir", "threads")) c.remove(perMachine);
        d.put("config", Json.write(c));
        d.put("data", dataFingerprint(set));
        return d;
    }

    private static String describeDifference(String key, String root, String mine) {
        if (key.equals("config")) {
            @SuppressWarnings("unchecked") Map<String, Object> a = (Map<String, Object>) Json.parse(root);
            @SuppressWarnings("unchecked") Map<String, Object> b = (Map<String, Object>) Json.parse(mine);
            List<String> fields = new ArrayList<>();
            for (String k : b.keySet()) if (!String.valueOf(b.get(k)).equals(String.valueOf(a.get(k))))
                fields.add(k + " " + b.get(k) + " (rank 0: " + a.get(k) + ")");
            return "config: " + String.join(", ", fields);
        }
        return key + " " + mine + " (rank 0: " + root + ")";
    }

    /** "attnface.jar sha256 1a2b3c4d5e6f" of the code this JVM runs, or its class folder when it runs from one (tests). */
    static String codeVersion() {
        try {
            Path where = Path.of(DataParallel.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isDirectory(where)) return "classes in " + where;
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (InputStream in = Files.newInputStream(where)) {
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            }
            return where.getFileName() + " sha256 " + hex(md.digest(), 6);
        } catch (IOException | NoSuchAlgorithmException | java.net.URISyntaxException | RuntimeException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    /** "19879 faces, sha256 ..." over names, labels and each image's content hash. */
    static String dataFingerprint(FaceSet set) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (int i = 0; i < set.count(); i++) {
                md.update(set.names()[i].getBytes(StandardCharsets.UTF_8));
                md.update(new byte[] {(byte) set.ages()[i], (byte) set.genders()[i], (byte) set.races()[i]});
                md.update(set.hashes()[i]);
            }
            return String.format(Locale.ROOT, "%d faces of %dx%d, sha256 %s", set.count(), set.size(), set.size(), hex(md.digest(), 6));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String hex(byte[] b, int n) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++) s.append(String.format("%02x", b[i]));
        return s.toString();
    }

    // ---- rank 0's state on every rank ---------------------------------------------------------

    /** Copies rank 0's parameters, buffers and optimiser state to every rank. */
    public void broadcastModel(Module model, Optimizer opt) {
        if (!world.distributed()) return;
        for (Map.Entry<String, Tensor> e : model.stateDict().entrySet()) broadcast(e.getValue(), e.getKey());
        for (Map.Entry<String, Tensor> e : opt.state().entrySet()) broadcast(e.getValue(), "optimizer." + e.getKey());
        double[] steps = {world.isRoot() ? opt.steps() : 0};
        world.sum(steps, "the optimiser's step count");   // rank 0's plus zeros
        opt.setSteps((int) steps[0]);
    }

    /**
     * Rank 0's batch-norm running statistics on every rank (DDP's broadcast_buffers): each rank's
     * own statistics come from its share of the batches, and validation must see one model.
     */
    public void broadcastBuffers(Module model) {
        if (!world.distributed()) return;
        Map<String, Tensor> params = model.namedParameters();
        for (Map.Entry<String, Tensor> e : model.stateDict().entrySet())
            if (!params.containsKey(e.getKey())) broadcast(e.getValue(), e.getKey());
    }

    private void broadcast(Tensor t, String name) {
        float[] v = t.toArray();
        world.broadcast(v, "the broadcast of " + name);
        t.copyFrom(v);
    }

    /** Rank 0's split of the data (null elsewhere) on every rank. */
    public Split broadcast(Split s) {
        if (!world.distributed()) return s;
        Map<String, Object> m = new LinkedHashMap<>();
        if (world.isRoot()) {
            m.put("seed", s.seed());
            m.put("train_fraction", s.trainFraction());
            m.put("val_fraction", s.valFraction());
            m.put("train", s.train());
            m.put("val", s.val());
            m.put("test", s.test());
        }
        Map<?, ?> r = (Map<?, ?>) Json.parse(new String(world.broadcast(Json.write(m).getBytes(StandardCharsets.UTF_8), "the split"), StandardCharsets.UTF_8));
        return new Split((Long) r.get("seed"), ((Number) r.get("train_fraction")).doubleValue(), ((Number) r.get("val_fraction")).doubleValue(),
                names(r.get("train")), names(r.get("val")), names(r.get("test")));
    }

    private static List<String> names(Object list) {
        List<String> out = new ArrayList<>();
        for (Object o : (List<?>) list) out.add((String) o);
        return out;
    }

    /** Rank 0's training position ({@code s} is null elsewhere). */
    public Checkpoint.State broadcast(Checkpoint.State s) {
        if (!world.distributed()) return s;
        LossSums l = world.isRoot() ? s.epochLoss() : null;
        double[] v = world.isRoot() ? new double[] {s.step(), s.epochsDone(), s.bestMetric(), s.bestEpoch(), l.count(), l.total(), l.gender(),
                l.age(), l.distance(), l.aux()} : new double[10];
        world.sum(v, "the training position");
        return new Checkpoint.State((long) v[0], (int) v[1], v[2], (int) v[3], new LossSums((long) v[4], v[5], v[6], v[7], v[8], v[9]));
    }

    /**
     * Stops when the ranks' weights differ (a bug, or hardware, would otherwise go unnoticed:
     * each rank applies the same averaged gradient and must hold the same bits).
     */
    public void checkSameWeights(Optimizer opt, int epoch) {
        if (!world.distributed()) return;
        float[] w = opt.flatParams().toArray();
        long h = 0;
        for (int i = 0; i < w.length; i++) h = Rng.mix(h, Float.floatToRawIntBits(w[i]));
        long[] all = world.allgather(h, "the weight check");
        for (int r = 1; r < all.length; r++)
            if (all[r] != all[0]) throw new DistException(String.format(Locale.ROOT,
                    "after epoch %d the weights of rank %d differ from rank 0's (hash %016x vs %016x): the ranks went out of step", epoch, r, all[r], all[0]));
    }

    // ---- reductions of results ------------------------------------------------------------------

    /** The global batch's mean losses from each rank's means over its {@code local} of {@code global} images. */
    public float[] meanLosses(float[] losses, int local, int global) {
        if (!world.distributed()) return losses;
        double[] v = new double[losses.length];
        for (int i = 0; i < v.length; i++) v[i] = (double) losses[i] * local / global;
        world.sum(v, "the loss");
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (float) v[i];
        return out;
    }

    /**
     * Every rank's rows in one array: this rank holds rows [start, start + local.length / width)
     * of {@code rows}; the others' places are zero, so the sum over ranks is exact.
     */
    public float[] gatherRows(float[] local, int rows, int width) {
        if (!world.distributed()) return local;
        float[] all = new float[rows * width];
        System.arraycopy(local, 0, all, shardStart(rows) * width, local.length);
        world.sum(all, "the gather of validation predictions");
        return all;
    }
}
