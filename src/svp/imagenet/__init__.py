"""ImageNet experiments with the original implementation's defaults.

``python -m svp.imagenet {train,active,coreset} --datasets-dir PATH ...`` and
``python -m svp.imagenet.active ...`` parse the original commands. The
defaults are the original's: ResNet18, SGD (momentum 0.9, weight decay
1e-4) on batches of 256 for 100 epochs, five warm-up epochs rising to 0.1
then steps to 0.01, 0.001 and 0.0001 (Goyal et al. 2017), scaled by
``batch size / 256``; label smoothing 0.1; a loss scale of 256 under
``--fp16``. The original's architecture names (``resnet18`` ...) mean
torchvision's ImageNet ResNets here (``imagenet-resnet18`` ...).
"""
from svp.cli import Domain

WARMUP_EPOCHS = [1, 1, 1, 1, 1]
WARMUP_RATES = [0.0167, 0.0333, 0.05, 0.0667, 0.0833]

IMAGENET_DEFAULTS = {
    "dataset": "imagenet", "arch": "resnet18",
    "epochs": (*WARMUP_EPOCHS, 25, 30, 20, 20),
    "learning_rates": (*WARMUP_RATES, 0.1, 0.01, 0.001, 0.0001),
    "scale_learning_rates": True, "weight_decay": 1e-4,
    "batch_size": 256,  # the evaluation batch size follows it unless given
    "label_smoothing": 0.1, "loss_scale": 256.0,
    "method": "least_confidence",  # for active learning and core-sets alike
    "initial_subset": 25_623, "rounds": (102_493, 128_117, 128_117, 128_117, 128_117),
    "subset": 512_466,
}

ARCH_ALIASES = {f"resnet{d}": f"imagenet-resnet{d}" for d in (18, 34, 50, 101, 152)}

DOMAIN = Domain(
    prog="python -m svp.imagenet",
    defaults=IMAGENET_DEFAULTS,
    datasets=("imagenet",),
    arch_aliases=ARCH_ALIASES,
)
