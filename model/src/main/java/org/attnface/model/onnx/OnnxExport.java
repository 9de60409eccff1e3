package org.attnface.model.onnx;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.attnface.engine.Tensor;
import org.attnface.engine.io.AtomicFile;
import org.attnface.engine.nn.BatchNorm2d;
import org.attnface.engine.nn.Conv2d;
import org.attnface.engine.nn.Module;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.ModelConfig;
import org.attnface.model.ensemble.Ensemble;
import org.attnface.model.onnx.OnnxGraph.Attr;
import org.attnface.model.resnet.ResNet;

/**
 * A trained network as an ONNX model (opset 20) that computes what {@link AgeGenderModel#predict}
 * computes: input "images" [n, 3, S, S] (RGB / 255, normalised with ImageNet's mean and std, as
 * training fed them), outputs "gender_probs" [n, 2] and "age_probs" [n, B]. Inference only:
 * batch norm uses its running statistics, dropout is left out, and the training-only auxiliary
 * heads are not exported. The spatial transformer is ONNX's own AffineGrid + GridSample
 * (bilinear, zero padding, align_corners 0: Ops.affineGrid and Ops.gridSample). An ensemble
 * mixes its members' probabilities with its attn weight, as predict does.
 *
 * <p>The graph mirrors the Java forwards (AttnCnn.traced, ResNet.traced, BasicBlock.forward)
 * node for node, reading the weights by their state-dict names; ONNX Runtime's own passes fold
 * the batch norms and fuse the ReLUs. Checked against attnface with ONNX Runtime in
 * trainer/src/test/.../OnnxExportTest.
 */
public final class OnnxExport {
    /** AffineGrid first appears in opset 20; IR version 9 is the one ONNX 1.15 pairs with it. */
    public static final int OPSET = 20, IR_VERSION = 9;

    private OnnxExport() {}

    /** Writes the model's ONNX file atomically (the target is replaced only once it is complete). */
    public static void write(AgeGenderModel model, Path file, String producerVersion) throws IOException {
        AtomicFile.writeBytes(file, toBytes(model, producerVersion));
    }

    public static byte[] toBytes(AgeGenderModel model, String producerVersion) {
        ModelConfig c = model.config();
        Map<String, Tensor> state = model.stateDict();
        int s = c.imageSize(), buckets = c.buckets().count();
        OnnxGraph g = new OnnxGraph("attnface_" + c.arch());
        String images = g.input("images", "n", 3, s, s);
        Weights w = new Weights(g, state, model.namedModules());
        String[] probs = switch (c.arch()) {
            case ATTN -> attn(g, w, c, "", images);
            case RESNET -> resnet(g, w, c, "", images);
            case ENSEMBLE -> {
                float a = ((Ensemble) model).attnWeight();
                String[] pa = attn(g, w, c, "attn.", images), pr = resnet(g, w, c, "resnet.", images);
                String wa = g.weight("ensemble.attn_weight", new float[] {a}), wr = g.weight("ensemble.resnet_weight", new float[] {1 - a});
                yield new String[] {mix(g, "gender_probs", pa[0], pr[0], wa, wr), mix(g, "age_probs", pa[1], pr[1], wa, wr)};
            }
        };
        g.output(probs[0], "n", 2);
        g.output(probs[1], "n", buckets);
        c.toMetadata().forEach(g::metadata);
        if (model instanceof Ensemble e) g.metadata("model.ensemble_attn_weight", Float.toString(e.attnWeight()));
        g.metadata("input", "images [n, 3, " + s + ", " + s + "]: RGB face crops, (pixel / 255 - mean) / std per channel");
        g.metadata("input.mean", "0.485,0.456,0.406");
        g.metadata("input.std", "0.229,0.224,0.225");
        g.metadata("output.gender_probs", "[n, 2]: index 0 male, 1 female (UTKFace's labels)");
        StringBuilder labels = new StringBuilder();
        for (int i = 0; i < buckets; i++) labels.append(i == 0 ? "" : ",").append(c.buckets().label(i));
        g.metadata("output.age_probs", "[n, " + buckets + "]: age buckets " + labels);
        return g.toModel(IR_VERSION, OPSET, "attnface", producerVersion,
                "attnface " + c.arch() + " at " + s + "x" + s + ": gender and age-bucket probabilities of face images");
    }

    /** Reads each state-dict tensor once, as an initializer of the same name and shape. */
    private record Weights(OnnxGraph g, Map<String, Tensor> state, Map<String, Module> modules) {
        String of(String name) {
            Tensor t = state.get(name);
            if (t == null) throw new IllegalArgumentException("ONNX export: the model has no tensor '" + name + "'");
            long[] dims = new long[t.rank()];
            for (int i = 0; i < dims.length; i++) dims[i] = t.dim(i);
            return g.weight(name, t.toArray(), dims);
        }

        boolean has(String name) { return state.containsKey(name); }

        <M extends Module> M module(String name, Class<M> type) {
            Module m = modules.get(name);
            if (!type.isInstance(m))
                throw new IllegalArgumentException("ONNX export: the model has no " + type.getSimpleName() + " '" + name + "'");
            return type.cast(m);
        }
    }

    /** AttnCnn.traced in eval mode; returns the names of its gender and age probabilities. */
    private static String[] attn(OnnxGraph g, Weights w, ModelConfig c, String p, String x) {
        if (c.attention()) {
            String y = conv(g, w, p + "localization.0", x);
            y = relu(g, p + "localization.2", maxPool(g, p + "localization.1", y, 2, 2, 0));
            y = conv(g, w, p + "localization.3", y);
            y = relu(g, p + "localization.5", maxPool(g, p + "localization.4", y, 2, 2, 0));
            y = flatten(g, p + "localization.flat", y);
            y = relu(g, p + "fc_loc.1", linear(g, w, p + "fc_loc.0", y));
            y = linear(g, w, p + "fc_loc.2", y);
            String theta = g.node(p + "theta", "Reshape", List.of(y, g.int64s(p + "theta.shape", -1, 2, 3)));
            String size = g.node(p + "images.shape", "Shape", List.of(x));
            String grid = g.node(p + "grid", "AffineGrid", List.of(theta, size), Attr.i("align_corners", 0));
            x = g.node(p + "attended", "GridSample", List.of(x, grid),
                    Attr.s("mode", "linear"), Attr.s("padding_mode", "zeros"), Attr.i("align_corners", 0));
        }
        String a1 = relu(g, p + "conv1.relu", conv(g, w, p + "conv1", x));
        String a2 = relu(g, p + "conv2.relu", maxPool(g, p + "conv2.pool", conv(g, w, p + "conv2", a1), 2, 2, 0));
        String a3 = relu(g, p + "conv3.relu", conv(g, w, p + "conv3", a2));
        String last = relu(g, p + "bn.relu", batchNorm(g, w, p + "bn", conv(g, w, p + "conv4", a3)));
        String a4 = maxPool(g, p + "bn.pool", last, 2, 2, 0);
        String f = relu(g, p + "fc.relu", linear(g, w, p + "fc", flatten(g, p + "flat", a4)));
        return heads(g, w, c, p, f);
    }

    /** ResNet.traced in eval mode. */
    private static String[] resnet(OnnxGraph g, Weights w, ModelConfig c, String p, String x) {
        String y = relu(g, p + "relu", batchNorm(g, w, p + "bn1", conv(g, w, p + "conv1", x)));
        y = maxPool(g, p + "maxpool", y, 3, 2, 1);
        int[] blocks = ResNet.blocksPerStage(c.resnetDepth());
        for (int stage = 0; stage < 4; stage++)
            for (int b = 0; b < blocks[stage]; b++)
                y = basicBlock(g, w, p + "layer" + (stage + 1) + "." + b, y);
        String f = flatten(g, p + "avgpool.flat", g.node(p + "avgpool", "GlobalAveragePool", List.of(y)));
        return heads(g, w, c, p, f);
    }

    /** BasicBlock.forward: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). */
    private static String basicBlock(OnnxGraph g, Weights w, String p, String x) {
        String y = relu(g, p + ".relu1", batchNorm(g, w, p + ".bn1", conv(g, w, p + ".conv1", x)));
        y = batchNorm(g, w, p + ".bn2", conv(g, w, p + ".conv2", y));
        String shortcut = x;
        if (w.has(p + ".downsample.0.weight"))
            shortcut = batchNorm(g, w, p + ".downsample.1", conv(g, w, p + ".downsample.0", x));
        return relu(g, p + ".relu", g.node(p + ".add", "Add", List.of(y, shortcut)));
    }

    /** MultiTaskHeads.apply, then the softmaxes of predict; the auxiliary heads play no part in predictions. */
    private static String[] heads(OnnxGraph g, Weights w, ModelConfig c, String p, String f) {
        boolean top = p.isEmpty();
        String gender = linear(g, w, p + "gender_head", f);
        String genderProbs = softmax(g, top ? "gender_probs" : p + "gender_probs", gender);
        String ageIn = f;
        if (c.feedGender()) {
            // The age head reads softmax(gender logits), which is the gender output itself.
            ageIn = g.node(p + "age_head.input", "Concat", List.of(f, genderProbs), Attr.i("axis", 1));
        }
        String ageProbs = softmax(g, top ? "age_probs" : p + "age_probs", linear(g, w, p + "age_head", ageIn));
        return new String[] {genderProbs, ageProbs};
    }

    /** Ensemble.mix: a * w + r * (1 - w), in that order. */
    private static String mix(OnnxGraph g, String out, String a, String r, String wa, String wr) {
        return g.node(out, "Add", List.of(g.node(out + ".attn", "Mul", List.of(a, wa)), g.node(out + ".resnet", "Mul", List.of(r, wr))));
    }

    /** Ops.conv2d with the module's stride and zero padding. */
    private static String conv(OnnxGraph g, Weights w, String name, String x) {
        Conv2d m = w.module(name, Conv2d.class);
        String weight = w.of(name + ".weight");
        List<String> in = m.bias != null ? List.of(x, weight, w.of(name + ".bias")) : List.of(x, weight);
        int k = m.weight.dim(2);
        return g.node(name, "Conv", in, Attr.ints("kernel_shape", k, k), Attr.ints("strides", m.stride, m.stride),
                Attr.ints("pads", m.pad, m.pad, m.pad, m.pad));
    }

    private static String batchNorm(OnnxGraph g, Weights w, String name, String x) {
        return g.node(name, "BatchNormalization",
                List.of(x, w.of(name + ".weight"), w.of(name + ".bias"), w.of(name + ".running_mean"), w.of(name + ".running_var")),
                Attr.f("epsilon", w.module(name, BatchNorm2d.class).eps));
    }

    /** y = x W^T + b (Ops.linear). */
    private static String linear(OnnxGraph g, Weights w, String name, String x) {
        return g.node(name, "Gemm", List.of(x, w.of(name + ".weight"), w.of(name + ".bias")), Attr.i("transB", 1));
    }

    private static String maxPool(OnnxGraph g, String name, String x, int k, int stride, int pad) {
        return g.node(name, "MaxPool", List.of(x), Attr.ints("kernel_shape", k, k), Attr.ints("strides", stride, stride),
                Attr.ints("pads", pad, pad, pad, pad));
    }

    private static String relu(OnnxGraph g, String name, String x) { return g.node(name, "Relu", List.of(x)); }

    private static String flatten(OnnxGraph g, String name, String x) { return g.node(name, "Flatten", List.of(x), Attr.i("axis", 1)); }

    private static String softmax(OnnxGraph g, String name, String x) { return g.node(name, "Softmax", List.of(x), Attr.i("axis", 1)); }
}
