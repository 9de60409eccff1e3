"""PyTorch reference of attnface's two networks and their ensemble (../../../shared/design/MODELS.md).

The same layers, shapes, parameter counts and loss as the Java models in
model/src/main/java/org/attnface/model, so throughput and accuracy can be compared one to
one. Parameter names follow the Java state dict (torchvision names inside the ResNet) so a
safetensors checkpoint of either side can be loaded into the other by name.

    attn    152,010 parameters at 64x64, 0.0144 GFLOP forward per image
    resnet  11,181,658 parameters,      0.296 GFLOP forward per image at 64x64
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


RACES, FINE_AGE_BINS = 5, 17


def fine_age_bin(age):
    """AuxLabels.fineAgeBin: 5-year bins, 80 and over in the last."""
    return min(max(age, 0) // 5, FINE_AGE_BINS - 1)


def _flatten_size(image_size, convs_and_pools):
    s = image_size
    for step in convs_and_pools:
        s = s - 2 if step == "conv" else s // 2
    return s


class MultiTaskHeads(nn.Module):
    """Base of both networks: gender = gender_head(f); age = age_head(concat(f, softmax(gender logits))).

    The heads are attributes of the network itself, so the names are flat
    ("gender_head.weight", "age_head.bias") as in the Java models. With aux=True (attnface's
    4th --loss-weights value) two training-only heads follow: race_head (5 classes) and
    fine_age_head (17 classes: 5-year bins, 80+ last), and the outputs are 4 instead of 2.
    """

    def add_heads(self, features, buckets=8, detach_gender=False, feed_gender=True, aux=False):
        self.feed_gender = feed_gender
        self.detach_gender = detach_gender
        self.gender_head = nn.Linear(features, 2)
        self.age_head = nn.Linear(features + (2 if feed_gender else 0), buckets)
        self.aux = aux
        if aux:
            self.race_head = nn.Linear(features, RACES)
            self.fine_age_head = nn.Linear(features, FINE_AGE_BINS)

    def heads(self, f):
        gender_logits = self.gender_head(f)
        if not self.feed_gender:
            age_logits = self.age_head(f)
        else:
            p = F.softmax(gender_logits, dim=1)
            if self.detach_gender:
                p = p.detach()
            age_logits = self.age_head(torch.cat([f, p], dim=1))
        if not self.aux:
            return gender_logits, age_logits
        return gender_logits, age_logits, self.race_head(f), self.fine_age_head(f)


class AttnCNN(MultiTaskHeads):
    """Deep-Emotion-style CNN with spatial-transformer attention (unpadded 3x3 convs)."""

    def __init__(self, image_size=64, buckets=8, attention=True, dropout=0.5, width=10, **heads):
        super().__init__()
        self.attention = attention
        # localisation: conv 3->8, maxpool 2, relu, conv 8->10, maxpool 2, relu
        self.localization = nn.Sequential(
            nn.Conv2d(3, 8, 3), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(8, 10, 3), nn.MaxPool2d(2), nn.ReLU())
        loc = _flatten_size(image_size, ["conv", "pool", "conv", "pool"])
        self.fc_loc = nn.Sequential(nn.Linear(10 * loc * loc, 32), nn.ReLU(), nn.Linear(32, 6))
        # the last layer starts at the identity transform
        nn.init.zeros_(self.fc_loc[2].weight)
        with torch.no_grad():
            self.fc_loc[2].bias.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))
        # trunk: width 10 in MODELS.md (attnface's --attn-width)
        self.conv1 = nn.Conv2d(3, width, 3)
        self.conv2 = nn.Conv2d(width, width, 3)
        self.conv3 = nn.Conv2d(width, width, 3)
        self.conv4 = nn.Conv2d(width, width, 3)
        self.bn = nn.BatchNorm2d(width)
        self.dropout = nn.Dropout(dropout)
        trunk = _flatten_size(image_size, ["conv", "conv", "pool", "conv", "conv", "pool"])
        self.fc = nn.Linear(width * trunk * trunk, 50)
        self.add_heads(50, buckets, **heads)

    def theta(self, x):
        return self.fc_loc(torch.flatten(self.localization(x), 1)).view(-1, 2, 3)

    def features(self, x):
        if self.attention:
            grid = F.affine_grid(self.theta(x), list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        x = F.relu(self.conv1(x))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = F.relu(self.conv3(x))
        x = F.relu(F.max_pool2d(self.bn(self.conv4(x)), 2))
        x = self.dropout(x)
        return F.relu(self.fc(torch.flatten(x, 1)))

    def forward(self, x):
        return self.heads(self.features(x))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class ResNetMultiTask(MultiTaskHeads):
    """torchvision resnet18 layout (names conv1, bn1, layer1.0.conv1, ...) without fc, plus the heads."""

    def __init__(self, image_size=64, buckets=8, depth=18, width=64, dropout=0.0, **heads):
        super().__init__()
        if depth != 18:
            raise ValueError(f"only depth 18 is implemented in the reference, got {depth}")
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        widths = [width, width * 2, width * 4, width * 8]
        cin = width
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w, 1)))
            cin = w
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.add_heads(cin, buckets, **heads)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.dropout(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def forward(self, x):
        return self.heads(self.features(x))


def expected_distance(age_logits, labels):
    """mean over rows of sum_k softmax_k * |k - label|: the differentiable stand-in for AABD."""
    p = F.softmax(age_logits, dim=1)
    k = torch.arange(age_logits.shape[1], dtype=p.dtype, device=p.device)
    return (p * (k.unsqueeze(0) - labels.unsqueeze(1).to(p.dtype)).abs()).sum(1).mean()


TERMS = ("gender", "age", "distance", "aux")


def multitask_terms(outputs, gender, age, weights=(1.0, 1.0, 0.5), aux=None):
    """The unweighted loss terms whose weight is non-zero, as attnface's MultiTaskLoss: CE(gender), CE(age bucket),
    the expected bucket distance and CE(race) + CE(fine age); weights = (gender, age, distance[, aux]),
    aux = (race labels, fine-age labels)."""
    gender_logits, age_logits = outputs[0], outputs[1]
    terms = {}
    if weights[0] != 0:
        terms["gender"] = F.cross_entropy(gender_logits, gender)
    if weights[1] != 0:
        terms["age"] = F.cross_entropy(age_logits, age)
    if weights[2] != 0:
        terms["distance"] = expected_distance(age_logits, age)
    if len(weights) > 3 and weights[3] != 0:
        if len(outputs) < 4 or aux is None:
            raise ValueError("an aux loss weight needs a network built with aux=True and the race and fine-age labels")
        terms["aux"] = F.cross_entropy(outputs[2], aux[0]) + F.cross_entropy(outputs[3], aux[1])
    return terms


def weighted_sum(terms, weights):
    return sum(weights[TERMS.index(k)] * v for k, v in terms.items())


def multitask_loss(outputs, gender, age, weights=(1.0, 1.0, 0.5), aux=None):
    """gender CE + age CE + lambda * expected bucket distance [+ w_aux * (CE(race) + CE(fine age))]."""
    return weighted_sum(multitask_terms(outputs, gender, age, weights, aux), weights)


class Ensemble(nn.Module):
    """Both networks on the same input; the loss is the sum of theirs, predictions average probabilities."""

    def __init__(self, image_size=64, buckets=8, depth=18, width=64, attn_width=10, aux=False):
        super().__init__()
        self.attn = AttnCNN(image_size, buckets, width=attn_width, aux=aux)
        self.resnet = ResNetMultiTask(image_size, buckets, depth, width, aux=aux)

    def forward(self, x):
        return self.attn(x), self.resnet(x)


def loss_terms(model, outputs, gender, age, weights=(1.0, 1.0, 0.5), aux=None):
    """multitask_terms, each summed over the ensemble's two networks."""
    if isinstance(model, Ensemble):
        per = [multitask_terms(o, gender, age, weights, aux) for o in outputs]
        return {k: per[0][k] + per[1][k] for k in per[0]}
    return multitask_terms(outputs, gender, age, weights, aux)


def loss(model, outputs, gender, age, weights=(1.0, 1.0, 0.5), aux=None):
    return weighted_sum(loss_terms(model, outputs, gender, age, weights, aux), weights)


def predict(model, outputs):
    """(gender probabilities [n,2], age-bucket probabilities [n,B]); the ensemble averages its two networks'."""
    if isinstance(model, Ensemble):
        probs = [predict(None, o) for o in outputs]
        return (probs[0][0] + probs[1][0]) / 2, (probs[0][1] + probs[1][1]) / 2
    g, a = outputs[0], outputs[1]
    return F.softmax(g, dim=1), F.softmax(a, dim=1)


def create(arch, image_size=64, buckets=8, depth=18, width=64, attn_width=10, aux=False):
    """depth and width shape the ResNet of "resnet" and "ensemble" (attnface's --resnet-depth/--resnet-width),
    attn_width the attn trunk of "attn" and "ensemble" (--attn-width), aux adds the race and fine-age heads."""
    if arch == "attn":
        return AttnCNN(image_size, buckets, width=attn_width, aux=aux)
    if arch == "resnet":
        return ResNetMultiTask(image_size, buckets, depth, width, aux=aux)
    if arch == "ensemble":
        return Ensemble(image_size, buckets, depth, width, attn_width, aux)
    raise ValueError(f"unknown model '{arch}' (attn, resnet or ensemble)")


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def forward_gflops(arch, image_size=64):
    """Conv and linear multiply-adds x 2 of one image's forward pass, counted with hooks."""
    model = create(arch, image_size).eval()
    total = [0]

    def conv_hook(m, i, o):
        total[0] += 2 * o.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1]

    def linear_hook(m, i, o):
        total[0] += 2 * o.numel() * m.in_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(conv_hook)
        elif isinstance(m, nn.Linear):
            m.register_forward_hook(linear_hook)
    with torch.no_grad():
        model(torch.zeros(1, 3, image_size, image_size))
    return total[0] / 1e9


if __name__ == "__main__":
    expected = {"attn": 152_010, "resnet": 11_181_658}
    for arch in ("attn", "resnet", "ensemble"):
        n = parameter_count(create(arch))
        note = ""
        if arch in expected:
            note = "OK" if n == expected[arch] else f"MISMATCH, MODELS.md says {expected[arch]:,}"
        print(f"{arch:9s} {n:>12,} parameters  {forward_gflops(arch):.4f} GFLOP/img forward at 64x64  {note}")
        if arch in expected and n != expected[arch]:
            raise SystemExit(1)
