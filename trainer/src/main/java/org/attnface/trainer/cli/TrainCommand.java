package org.attnface.trainer.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.attnface.engine.Device;
import org.attnface.engine.Backends;
import org.attnface.engine.dist.World;
import org.attnface.model.Arch;
import org.attnface.model.ModelConfig;
import org.attnface.trainer.options.CacheDirOption;
import org.attnface.trainer.options.DataOption;
import org.attnface.trainer.options.DeterministicOption;
import org.attnface.trainer.options.DeviceOption;
import org.attnface.trainer.options.SeedOption;
import org.attnface.trainer.options.ThreadsOption;
import org.attnface.trainer.train.OptimizerKind;
import org.attnface.trainer.train.TrainConfig;
import org.attnface.trainer.train.Trainer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Trains a model on a UTKFace folder into a run folder: config.json, split.json, metrics.jsonl,",
                "last.safetensors (every epoch and every --checkpoint-every steps), best.safetensors, report/*.png.",
                "A killed run continues with --out RUN --resume and ends with the same weights (CPU, same --threads).",
                "Without --model it trains the ensemble recipe (--recipe ensemble); any flag given changes that one value."})
public final class TrainCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--data", description = DataOption.DESCRIPTION + "; on --resume, default: the run's")
    Path data;

    @Option(names = "--recipe", paramLabel = "NAME", description = "a named set of the flags below, applied where this command line"
            + " does not give them: " + Recipe.HELP + " (default: ensemble, unless --model is given)")
    String recipe;

    @Option(names = "--model", defaultValue = "attn", description = "attn, resnet or ensemble (default: the recipe's; with --model"
            + " and no --recipe, the defaults below)")
    String model;

    @Option(names = "--epochs", defaultValue = "30", description = "epochs (default: ${DEFAULT-VALUE}); on --resume, may extend the run")
    int epochs;

    @Option(names = "--batch", defaultValue = "64", description = "batch size (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--lr", description = "peak learning rate (default: 0.01 for sgd, 0.001 for adamw)")
    Float lr;

    @Option(names = "--attn-lr", description = "ensemble: peak learning rate of the attn member, which trains worse at the rate "
            + "the ResNet wants (default: --lr)")
    Float attnLr;

    @Option(names = "--optimizer", defaultValue = "sgd", description = "sgd (momentum) or adamw (default: ${DEFAULT-VALUE})")
    String optimizer;

    @Option(names = "--momentum", defaultValue = "0.9", description = "SGD momentum (default: ${DEFAULT-VALUE})")
    float momentum;

    @Option(names = "--weight-decay", defaultValue = "5e-4", description = "weight decay (default: ${DEFAULT-VALUE})")
    float weightDecay;

    @Option(names = "--warmup-steps", defaultValue = "-1", description = "linear warm-up steps before the cosine decay (default: min(1 epoch, 5%% of the steps))")
    int warmupSteps;

    @Option(names = "--image-size", defaultValue = "64", description = "square crop fed to the network (default: ${DEFAULT-VALUE})")
    int imageSize;

    @Option(names = "--cache-size", description = "size the faces are decoded and cached at; crops are cut from it (default: image size x 9/8, 72 for 64)")
    Integer cacheSize;

    @Option(names = "--buckets", defaultValue = "0,10,20,30,40,50,60,70", description = "age bucket lower bounds (default: ${DEFAULT-VALUE})")
    String buckets;

    @Option(names = "--resnet-depth", defaultValue = "18", description = "resnet, ensemble: ResNet depth, 10, 18 or 34 (default: ${DEFAULT-VALUE})")
    int resnetDepth;

    @Option(names = "--resnet-width", defaultValue = "64", description = "resnet, ensemble: channels of the ResNet's first stage; "
            + "later stages double it (default: ${DEFAULT-VALUE}, torchvision's)")
    int resnetWidth;

    @Option(names = "--attn-width", defaultValue = "10", description = "attn, ensemble: channels of the attn network's four trunk "
            + "convolutions (default: ${DEFAULT-VALUE}, MODELS.md's; 16 costs the attn network about 2x at 128x128)")
    int attnWidth;

    @Option(names = "--no-attention", description = "attn without the spatial transformer (RQ1)")
    boolean noAttention;

    @Option(names = "--no-feed-gender", description = "do not feed the gender probabilities to the age head (RQ3)")
    boolean noFeedGender;

    @Option(names = "--detach-gender", description = "feed the gender probabilities without letting the age loss train the gender path")
    boolean detachGender;

    @Option(names = "--loss-weights", split = ",", defaultValue = "1,1,0.5", description = "gender CE, age CE, expected bucket distance"
            + " [, auxiliary race CE + CE of the age in 5-year bins: a 4th weight > 0 adds those two training-only heads] (default: ${DEFAULT-VALUE})")
    List<Float> lossWeights;

    @Option(names = "--zero-init-residual", description = "resnet, ensemble: start the last batch norm of every ResNet block at gamma 0,"
            + " so each block starts as the identity (torchvision's zero_init_residual)")
    boolean zeroInitResidual;

    @Mixin DeviceOption device;

    @Mixin DeterministicOption deterministic;

    @Mixin ThreadsOption threads;

    @Mixin SeedOption seed;

    @Option(names = "--out", required = true, description = "run folder")
    Path out;

    @Option(names = "--resume", description = "continue the run in --out from its last.safetensors with its config.json")
    boolean resume;

    @Option(names = "--limit", defaultValue = "0", description = "use only N images (a fixed sample; for quick runs); 0 = all")
    int limit;

    @Option(names = "--checkpoint-every", defaultValue = "0", description = "also write last.safetensors every N steps (default: only at epoch ends)")
    int checkpointEvery;

    @Option(names = "--loss-every", description = "read the loss (and check it and the gradients for NaN/Inf) every N steps (default: 1 on cpu, 10 on cuda)")
    Integer lossEvery;

    @Option(names = "--clip-grad", defaultValue = "0", description = "clip the global gradient norm to this value; 0 = off")
    float clipGrad;

    @Option(names = "--split", split = ",", defaultValue = "0.7,0.15", description = "train and validation fractions; the rest is the test split (default: ${DEFAULT-VALUE})")
    List<Double> split;

    @Mixin CacheDirOption cacheDir;

    @Option(names = "--fault-inject-step", defaultValue = "-1", hidden = true, description = "test hook: put a NaN into the batch of this step")
    long faultInjectStep;

    @Mixin org.attnface.trainer.bench.ProfileOption profile;

    @Override public Integer call() throws Exception {
        Device d = device.open(threads.orDefault(), System.err);
        if (d == null) return Main.EXIT_NO_DEVICE;
        deterministic.apply(d, System.err);
        int threadCount = Backends.cpuThreads();
        String cache = cacheDir.dir().toString();
        TrainConfig cfg;
        Path configFile = out.resolve("config.json");
        if (resume && Files.exists(configFile)) {
            TrainConfig saved = TrainConfig.load(configFile);
            String dataDir = data != null ? data.toString() : saved.data();
            if (threads.value() != null && threads.value() != saved.threads())
                System.err.printf(Locale.ROOT, "note: --threads %d differs from the run's %d: training continues, but not bit-exactly%n", threads.value(), saved.threads());
            cfg = saved.withRuntime(dataDir, device.name(), threadCount, cache, faultInjectStep);
            if (spec.commandLine().getParseResult().hasMatchedOption("--epochs")) cfg = cfg.withEpochs(epochs);
            else if (cfg.epochs() == 0)
                throw new ParameterException(spec.commandLine(), out + " was set up with --epochs 0: add --epochs N to train it");
            System.err.println("resuming with the run's config.json (other options given here are not applied; --epochs, --data, --device, --threads are)");
        } else {
            if (data == null) throw new ParameterException(spec.commandLine(), "--data is required (the UTKFace folder)");
            Recipe.apply(spec, recipe, System.out);
            if (lossWeights.size() != 3 && lossWeights.size() != 4)
                throw new ParameterException(spec.commandLine(), "--loss-weights takes 3 or 4 numbers: gender,age,distance[,aux]");
            if (split.size() != 2) throw new ParameterException(spec.commandLine(), "--split takes 2 numbers: train,val");
            if (!Arch.NAMES.contains(model))
                throw new ParameterException(spec.commandLine(), "--model must be " + Arch.choices() + ", not '" + model + "'");
            Arch arch = Arch.parse(model);
            OptimizerKind opt = OptimizerKind.parse(optimizer);
            float peak = lr != null ? lr : opt.defaultLr;
            int cs = cacheSize != null ? cacheSize : imageSize * 9 / 8;
            int le = lossEvery != null ? lossEvery : d == Device.CPU ? 1 : 10;
            if (attnLr != null && !(arch == Arch.ENSEMBLE && attnLr > 0 && attnLr <= 1e3))
                throw new ParameterException(spec.commandLine(), "--attn-lr is the ensemble's attn member's rate, in (0, 1000]; got "
                        + attnLr + " with --model " + model);
            if (!arch.hasResnet() && (resnetDepth != 18 || resnetWidth != 64))
                throw new ParameterException(spec.commandLine(), "--resnet-depth and --resnet-width shape the ResNet of --model resnet or ensemble; "
                        + "--model attn has none");
            if (!ModelConfig.RESNET_DEPTHS.contains(resnetDepth))
                throw new ParameterException(spec.commandLine(), "--resnet-depth must be 10, 18 or 34, not " + resnetDepth);
            if (resnetWidth < 1 || resnetWidth > ModelConfig.MAX_RESNET_WIDTH)
                throw new ParameterException(spec.commandLine(), "--resnet-width must be in [1, " + ModelConfig.MAX_RESNET_WIDTH + "], not " + resnetWidth);
            if (!arch.hasResnet() && zeroInitResidual)
                throw new ParameterException(spec.commandLine(), "--zero-init-residual changes the ResNet of --model resnet or ensemble; --model attn has none");
            if (!arch.hasAttn() && attnWidth != ModelConfig.ATTN_WIDTH)
                throw new ParameterException(spec.commandLine(), "--attn-width shapes the attn network of --model attn or ensemble; --model resnet has none");
            if (attnWidth < 1 || attnWidth > ModelConfig.MAX_ATTN_WIDTH)
                throw new ParameterException(spec.commandLine(), "--attn-width must be in [1, " + ModelConfig.MAX_ATTN_WIDTH + "], not " + attnWidth);
            cfg = new TrainConfig(data.toString(), arch, epochs, batch, peak, attnLr == null ? 0f : attnLr, opt, momentum, weightDecay,
                    warmupSteps, imageSize, cs,
                    buckets, resnetDepth, resnetWidth, attnWidth, !noAttention, !noFeedGender, detachGender, lossWeights.get(0), lossWeights.get(1), lossWeights.get(2),
                    lossWeights.size() == 4 ? lossWeights.get(3) : 0f, zeroInitResidual, device.name(), threadCount, seed.value(), limit, checkpointEvery, le, clipGrad, split.get(0), split.get(1), cache, faultInjectStep);
        }
        profile.start(d);
        Trainer.Result r;
        try {
            // under mpirun rank 0 speaks for the job; the others print only their errors
            r = Trainer.run(cfg, out, resume, World.get().isRoot() ? System.out : new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        } finally {
            profile.finish(out, System.out);
        }
        if (cfg.epochs() == 0 || !World.get().isRoot()) return 0;
        System.out.printf(Locale.ROOT, "done: %d steps; best validation (gender + age-bucket accuracy) %.4f at epoch %d%n", r.steps(), r.bestMetric(), r.bestEpoch());
        System.out.println("next: attnface eval --data " + cfg.data() + " --checkpoint " + out.resolve("best.safetensors"));
        return 0;
    }
}
