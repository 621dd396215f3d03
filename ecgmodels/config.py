"""Every knob of one LSTM-GAN run (networks and training), its defaults, and the named variants.

`GanConfig` is flat on purpose: a search trial's dict becomes one with `GanConfig.from_dict(d)`, and
an unknown or missing-but-required key fails at once instead of silently taking a default.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

LOSSES = ("bce", "hinge", "wgan-gp")
UPSAMPLING = ("nearest", "linear")
# Fields a run may change when it continues from a checkpoint (Population Based Training perturbs the
# learning rates and loss weights; a longer run raises epochs): none shapes a weight, so the
# checkpoint's networks and optimiser states still fit.
HOT_FIELDS = ("g_lr", "d_lr", "gp_weight", "r1_weight", "mmd_weight", "fm_weight", "ms_weight", "seed", "epochs")


@dataclass(frozen=True)
class GanConfig:
    """One LSTM-GAN: generator, discriminator and training settings. Defaults are the seed's."""

    # --- data shape (set from the dataset, not searched)
    leads: int = 1  # output channels: single-lead beats
    window: int = 400  # samples per beat
    # --- generator: noise [batch, latent_len, latent_channels] -> LSTM -> convs (+ x2 upsampling) -> tanh
    latent_len: int = 100  # must be window / 2**k; the k upsamplings are spread over the conv stack
    latent_channels: int = 12
    # Feed the LSTM one extra input channel holding the time position (-1 .. 1 along the latent
    # sequence). Convolutions cannot tell where index 150 is, and an LSTM over i.i.d. noise learns
    # it slowly; the seed had no such channel, so it is off by default.
    g_position: bool = False
    g_lstm_units: int = 64  # per direction
    g_lstm_layers: int = 1
    g_bidirectional: bool = True
    g_channels: tuple[int, ...] = (128, 64, 32, 16)  # hidden convolutions, in order
    g_kernel: int = 16
    g_slope: float = 0.3  # LeakyReLU negative slope
    # How the generator doubles its length. The seed (Keras UpSampling1D) repeats samples: every
    # conv after it sees a staircase, and its output keeps a ripple at the repeat period that real
    # beats lack (bench/RESULTS.md, "Output ripple"). 'linear' interpolates instead.
    g_upsample: str = "nearest"
    # Add the mean training beat to the output (a constant buffer, set when training starts), so the
    # networks learn only how beats differ from the average one. Measured (bench/mean_beat.py): G
    # trained on moment matching alone draws noise for ~700 steps before it finds the beat's shape;
    # with the offset, ~40. The seed had none.
    g_mean_beat: bool = False
    # Add a mix of the training beats' top `g_pca` principal components (each at its own sd; buffers
    # set when training starts, saved with the weights), weighted per beat by a linear map of the
    # latent noise. Real beats vary mostly along a few such directions (R and T
    # amplitude, QRS width, timing); this gives G those directions to vary along, beside its
    # convolutional output. 0 = off (the seed).
    g_pca: int = 0
    # --- discriminator: convs (max-pool x2 after every `d_pool_every`) -> flatten -> linear logit
    d_channels: tuple[int, ...] = (32, 64, 128, 256)
    d_kernel: int = 16
    d_slope: float = 0.3
    d_pool_every: int = 2
    # Minibatch standard deviation (StyleGAN, Karras et al. 2018): before the logit, D sees one extra
    # feature, the spread of its features across a group of this many beats, so a batch of near-identical
    # beats (mode collapse) is visible to it. 0 = off (the seed's).
    d_mbstd: int = 0
    d_spectral: bool = False  # spectral normalisation of D's layers (Miyato et al. 2018)
    # --- training
    loss: str = "bce"  # 'bce' (the seed's), 'hinge' or 'wgan-gp'
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    g_beta1: float = 0.9
    g_beta2: float = 0.999
    d_beta1: float = 0.9
    d_beta2: float = 0.999
    batch_size: int = 64
    d_steps: int = 1  # discriminator updates per generator update
    gp_weight: float = 10.0  # gradient-penalty weight, used by 'wgan-gp' only
    # --- anti-collapse terms (all 0 = off, the seed's recipe; each measured alone in bench/RESULTS.md)
    r1_weight: float = 0.0  # zero-centred gradient penalty on real beats, gamma/2 |grad D(real)|^2 (Mescheder 2018)
    # Moment matching: G's loss gains mmd_weight x MMD^2(fake batch, real batch) with a sum of RBF
    # kernels at `mmd_scales` times the median distance between training beats. Real *training*
    # batches only: validation and test beats never enter training.
    mmd_weight: float = 0.0
    mmd_scales: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
    fm_weight: float = 0.0  # feature matching: |mean D-features(real) - mean D-features(fake)|^2 (Salimans 2016)
    # Mode seeking (Mao et al. 2019): G's loss gains ms_weight / (|G(z1)-G(z2)| / |z1-z2|), pushing
    # different noise to different beats.
    ms_weight: float = 0.0
    # Sample from an exponential moving average of G's weights (decay per G step; 0 = off, the seed's
    # way). GAN weights oscillate from step to step; their average draws steadier beats. The decay
    # ramps up from 0 over the first train.EMA_WARMUP G steps, so the random initial weights fade out.
    g_ema: float = 0.0
    epochs: int = 80  # one epoch = one pass of the training windows through the discriminator
    seed: int = 0
    amp: bool = False  # bfloat16 autocast on CUDA (ignored on CPU)
    # Stop as 'collapsed' after this many consecutive epochs whose generated beats vary less than
    # `collapse_ratio` times the real beats' spread (0 turns the check off).
    collapse_patience: int = 10
    collapse_ratio: float = 0.05

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, why: str) -> None:
            if not ok:
                raise ValueError(f"GanConfig.{field}={getattr(self, field)!r}: {why}")

        for f in ("leads", "window", "latent_len", "latent_channels", "g_lstm_units", "g_lstm_layers",
                  "g_kernel", "d_kernel", "d_pool_every", "batch_size", "d_steps", "epochs"):
            need(isinstance(getattr(self, f), int) and getattr(self, f) > 0, f, "must be a positive integer")
        for f in ("g_channels", "d_channels"):
            chans = getattr(self, f)
            need(len(chans) > 0 and all(isinstance(c, int) and c > 0 for c in chans), f,
                 "must be a non-empty tuple of positive integers")
        ratio = self.window / self.latent_len
        ups = round(math.log2(ratio)) if ratio >= 1 else -1
        need(ups >= 0 and self.latent_len * 2**ups == self.window, "latent_len",
             f"window {self.window} must be latent_len times a power of two (e.g. 100, 50, 25 for 400)")
        need(ups <= len(self.g_channels), "latent_len",
             f"needs {ups} x2 upsamplings but g_channels has only {len(self.g_channels)} convolutions")
        need(self.g_kernel <= self.window, "g_kernel", f"longer than the window ({self.window})")
        pools = len(self.d_channels) // self.d_pool_every
        need(self.window // 2**pools >= 1, "d_channels", f"{pools} poolings shrink the window to nothing")
        need(self.d_kernel <= self.window, "d_kernel", f"longer than the window ({self.window})")
        need(self.loss in LOSSES, "loss", f"must be one of {LOSSES}")
        need(self.g_upsample in UPSAMPLING, "g_upsample", f"must be one of {UPSAMPLING}")
        need(isinstance(self.d_mbstd, int) and self.d_mbstd >= 0 and self.d_mbstd != 1, "d_mbstd",
             "group size must be 0 (off) or at least 2")
        for f in ("r1_weight", "mmd_weight", "fm_weight", "ms_weight"):
            need(getattr(self, f) >= 0, f, "must be >= 0 (0 turns it off)")
        need(isinstance(self.g_pca, int) and 0 <= self.g_pca < self.window * self.leads, "g_pca",
             f"must lie in [0, {self.window * self.leads}) (0 turns it off)")
        need(len(self.mmd_scales) > 0 and all(s > 0 for s in self.mmd_scales), "mmd_scales",
             "must be a non-empty tuple of positive multiples of the median distance")
        for f in ("g_lr", "d_lr"):
            need(0 < getattr(self, f) < 1, f, "learning rate must lie in (0, 1)")
        for f in ("g_beta1", "g_beta2", "d_beta1", "d_beta2"):
            need(0 <= getattr(self, f) < 1, f, "Adam beta must lie in [0, 1)")
        for f in ("g_slope", "d_slope"):
            need(0 <= getattr(self, f) < 1, f, "LeakyReLU slope must lie in [0, 1)")
        need(self.gp_weight >= 0, "gp_weight", "must be >= 0")
        need(0 <= self.g_ema < 1, "g_ema", "EMA decay must lie in [0, 1) (0 turns it off)")
        need(self.collapse_patience >= 0, "collapse_patience", "must be >= 0 (0 turns the check off)")

    @property
    def upsamplings(self) -> int:
        return round(math.log2(self.window / self.latent_len))

    @classmethod
    def from_dict(cls, d: dict) -> "GanConfig":
        """Build from a plain dict (JSON, a trial's config); unknown keys raise TypeError naming them."""
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise TypeError(f"unknown GanConfig key(s) {unknown}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "GanConfig":
        return dataclasses.replace(self, **changes)


# Named variants. `seed` is the seed's networks and recipe exactly (see ../shared/notes/seed.md);
# the others are starting points: `small` trains on CPU in seconds per epoch, `tiny` is for tests.
VARIANTS: dict[str, GanConfig] = {
    # The seed trained its 80 epochs whatever the output looked like: no collapse stop.
    "seed": GanConfig(collapse_patience=0),
    "small": GanConfig(latent_len=50, latent_channels=8, g_lstm_units=32, g_channels=(64, 32, 16),
                       g_kernel=9, d_channels=(16, 32, 64), d_kernel=9, d_pool_every=1, loss="hinge",
                       batch_size=64, epochs=30),
    "tiny": GanConfig(latent_len=25, latent_channels=4, g_lstm_units=8, g_channels=(16, 8, 8, 8),
                      g_kernel=5, d_channels=(8, 8), d_kernel=5, d_pool_every=1, batch_size=32, epochs=2),
}


def variant(name: str, **overrides) -> GanConfig:
    """A registered variant, optionally with fields changed; KeyError lists the names."""
    if name not in VARIANTS:
        raise KeyError(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[name].replace(**overrides) if overrides else VARIANTS[name]
