package org.attnface.model.resnet;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.nn.BatchNorm2d;
import org.attnface.engine.nn.Conv2d;
import org.attnface.engine.nn.Module;
import org.attnface.engine.nn.Sequential;
import org.attnface.engine.ops.Ops;
import org.attnface.model.Explanation;
import org.attnface.model.Logits;
import org.attnface.model.ModelConfig;
import org.attnface.model.MultiTaskNetwork;
import org.attnface.model.heads.MultiTaskHeads;

/**
 * torchvision's ResNet layout with BasicBlocks and the multi-task heads in place of fc:
 * 7x7/2 stem conv, batch norm, relu, 3x3/2 max pool, four stages (width, 2, 4, 8 x width
 * channels; stride 2 at the first block of stages 2-4), global average pool -> 8 x width
 * features. Blocks per stage: [1,1,1,1] for depth 10, [2,2,2,2] for 18, [3,4,6,3] for 34.
 * Convolutions are bias-free with Kaiming-normal fan-out weights, batch norms start at
 * gamma 1, beta 0. ResNet-18 of width 64 with 8 age buckets: 11,181,658 parameters.
 * Names are torchvision's ("layer2.0.downsample.0.weight") plus "gender_head", "age_head".
 */
public final class ResNet extends MultiTaskNetwork {
    private final Conv2d conv1;
    private final BatchNorm2d bn1;
    private final Sequential[] layers = new Sequential[4];
    private final MultiTaskHeads heads;

    public ResNet(ModelConfig config, Device device) {
        super(config);
        int[] blocks = blocksPerStage(config.resnetDepth());
        int width = config.resnetWidth();
        conv1 = child("conv1", new Conv2d(device, 3, width, 7, 2, 3, false).heInit());
        bn1 = child("bn1", new BatchNorm2d(device, width));
        int in = width;
        for (int stage = 0; stage < 4; stage++) {
            int out = width << stage;
            Sequential layer = new Sequential();
            for (int b = 0; b < blocks[stage]; b++) {
                layer.add(new BasicBlock(device, in, out, b == 0 && stage > 0 ? 2 : 1));
                in = out;
            }
            layers[stage] = child("layer" + (stage + 1), layer);
        }
        heads = new MultiTaskHeads(device, in, config.buckets().count(), config.feedGender(), config.detachGender(), config.auxHeads());
        heads.named().forEach(this::child);
    }

    /**
     * Zeroes the last batch-norm gamma of every BasicBlock inside {@code m} (a ResNet or the
     * ensemble) and returns how many blocks it changed: torchvision's zero_init_residual, which
     * Goyal et al. (2017) found to help SGD early on.
     */
    public static int zeroInitResiduals(Module m) {
        int n = 0;
        for (Module c : m.namedModules().values())
            if (c instanceof BasicBlock b) {
                b.zeroInitResidual();
                n++;
            }
        return n;
    }

    public static int[] blocksPerStage(int depth) {
        return switch (depth) {
            case 10 -> new int[] {1, 1, 1, 1};
            case 18 -> new int[] {2, 2, 2, 2};
            case 34 -> new int[] {3, 4, 6, 3};
            default -> throw new IllegalArgumentException("ResNet depth " + depth + " is not supported: choose 10, 18 or 34");
        };
    }

    /** Feature width: 8 x the first stage's channels (512 for ResNet-18). */
    public int features() { return config.resnetWidth() * 8; }

    @Override public Logits logits(Tensor images) {
        checkImages("logits", images);
        return traced(images).logits();
    }

    private Trace traced(Tensor x) {
        Tensor y = Ops.relu(bn1.forward(conv1.forward(x)));
        y = Ops.maxPool2d(y, 3, 2, 1);
        Tensor l1 = layers[0].forward(y);
        Tensor l3 = layers[2].forward(layers[1].forward(l1));
        Tensor l4 = layers[3].forward(l3);
        Tensor f = Ops.globalAvgPool(l4);
        return new Trace(heads.apply(f), null, l1, l3, l4);
    }

    /**
     * No theta; activations of layer1 (S/4 square) and layer3 (S/16); Grad-CAM at layer4
     * (S/32: 2x2 at 64x64, 4x4 at 128x128 — coarse, as for any ResNet at this input size).
     */
    @Override public Explanation explain(Tensor image) {
        return explainTraced(image, this::traced);
    }
}
