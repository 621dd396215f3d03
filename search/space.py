"""The search space over LSTM-GAN variants, in one place, and the map from a trial's params to a GanConfig.

`define_space(trial)` is an Optuna define-by-run function: it only suggests values (no
computation), so Optuna can record and replay it. `to_gan_config(params, ...)` turns the suggested
values into a validated `ecgmodels.GanConfig`, which fails on any unknown key.
"""
from __future__ import annotations

from ecgmodels.config import GanConfig

# Searched losses. WGAN-GP (ecgmodels.config) is left out: with its usual recipe (Adam betas 0/0.9,
# 5 critic steps) it did no better than hinge in 40 epochs at a higher cost per epoch (bench/RESULTS.md).
LOSSES = ("bce", "hinge")


def anti_collapse(trial) -> None:
    """The anti-collapse axes both spaces search, the ones that earned their place in the ablation
    (bench/RESULTS.md, "Anti-collapse"): moment matching against real training batches (always on:
    every run without it drew one template beat), mode seeking, minibatch standard deviation and
    spectral normalisation in D, and linear upsampling (the seed's nearest-neighbour one leaves a
    ripple). R1 and feature matching collapsed as early as the plain GAN and are not searched. The
    mean-beat offset is not a choice either: ANTI_COLLAPSE_FIXED turns it on for every trial.
    G's principal-component mix (`g_pca`) is always on, its size searched: without it every
    generator varied by a smooth wander instead of as real beats do (bench/RESULTS.md, "Wander")."""
    trial.suggest_categorical("g_pca", [8, 16, 32])
    trial.suggest_float("mmd_weight", 10.0, 200.0, log=True)
    trial.suggest_float("ms_weight", 0.0, 0.3)
    trial.suggest_categorical("d_mbstd", [0, 4])
    trial.suggest_categorical("d_spectral", [False, True])
    trial.suggest_categorical("g_upsample", ["nearest", "linear"])


# On in every searched trial: without it moment matching spends ~30 CPU epochs drawing noise first.
ANTI_COLLAPSE_FIXED = {"g_mean_beat": True}


def define_space(trial) -> dict:
    """The full space: generator and discriminator sizes, learning rates, batch, loss, D steps.

    Returns Optuna's trial number as a constant: it names the trial and derives its training seed.
    """
    trial.suggest_categorical("g_lstm_units", [16, 32, 64])
    trial.suggest_int("g_lstm_layers", 1, 2)
    trial.suggest_categorical("g_bidirectional", [True, False])
    trial.suggest_categorical("latent_len", [100, 50])  # 2 or 3 x2 upsamplings to 400 samples
    trial.suggest_categorical("latent_channels", [4, 8, 12])
    trial.suggest_categorical("g_position", [False, True])  # a time-position input channel
    trial.suggest_int("g_depth", 3, 4)  # hidden convolutions (>= the 3 upsamplings of latent_len 50)
    trial.suggest_categorical("g_width", [32, 64, 128])  # first conv's channels; halved at each layer
    trial.suggest_categorical("g_kernel", [5, 9, 16])
    trial.suggest_int("d_depth", 2, 4)
    trial.suggest_categorical("d_width", [16, 32, 64])  # first conv's channels; doubled at each layer
    trial.suggest_categorical("d_kernel", [5, 9, 16])
    trial.suggest_float("g_lr", 5e-5, 2e-3, log=True)
    trial.suggest_float("d_lr", 5e-5, 2e-3, log=True)
    trial.suggest_categorical("batch_size", [32, 64, 128])
    trial.suggest_categorical("loss", list(LOSSES))
    trial.suggest_int("d_steps", 1, 3)
    # sample from averaged G weights (ecgmodels.config); 0.999 suits the long runs this space is for
    trial.suggest_categorical("g_ema", [0.0, 0.99, 0.999])
    anti_collapse(trial)
    return {**ANTI_COLLAPSE_FIXED, "trial_number": trial.number}


def define_small_space(trial) -> dict:
    """The full space's axes at CPU-friendly sizes (narrow convs, short kernels, one LSTM layer):
    a 10-epoch trial on LUDB lead II takes about a minute on one core."""
    trial.suggest_categorical("g_lstm_units", [16, 32])
    trial.suggest_categorical("g_bidirectional", [True, False])
    trial.suggest_categorical("latent_len", [100, 50])
    trial.suggest_categorical("latent_channels", [4, 8])
    trial.suggest_categorical("g_position", [False, True])
    trial.suggest_int("g_depth", 3, 4)
    trial.suggest_categorical("g_width", [16, 32])
    trial.suggest_categorical("g_kernel", [5, 9])
    trial.suggest_int("d_depth", 2, 3)
    trial.suggest_categorical("d_width", [8, 16])
    trial.suggest_categorical("d_kernel", [5, 9])
    trial.suggest_float("g_lr", 1e-4, 2e-3, log=True)
    trial.suggest_float("d_lr", 1e-4, 2e-3, log=True)
    trial.suggest_categorical("batch_size", [32, 64])
    trial.suggest_categorical("loss", list(LOSSES))
    trial.suggest_int("d_steps", 1, 2)
    # A CPU trial makes ~1,000 G steps: an EMA of decay 0.999 (horizon ~1,000 steps) would still be
    # dominated by the first epochs' weights when it ends (measured: trial 58 of the reference, 40 epochs,
    # never scored better than at epoch 5 with 0.999; with 0.99 it reached the reference's quality).
    trial.suggest_categorical("g_ema", [0.0, 0.9, 0.99])
    anti_collapse(trial)
    return {**ANTI_COLLAPSE_FIXED, "g_lstm_layers": 1, "trial_number": trial.number}


def define_smoke_space(trial) -> dict:
    """A tiny space for `--smoke`: small nets that train in a second or two per epoch on CPU.
    What it does not vary is returned as constants, so every trial's config is complete."""
    trial.suggest_categorical("g_lstm_units", [8, 16])
    trial.suggest_categorical("latent_len", [50])
    trial.suggest_categorical("g_width", [16])
    trial.suggest_categorical("d_width", [8])
    trial.suggest_float("g_lr", 1e-4, 1e-3, log=True)
    trial.suggest_categorical("loss", ["hinge", "bce"])
    return {**SMOKE_FIXED, "trial_number": trial.number}


# Fixed values for what the smoke space does not vary (still a full, valid GanConfig).
SMOKE_FIXED = dict(g_lstm_layers=1, g_bidirectional=True, latent_channels=4, g_depth=3, g_kernel=5, d_depth=2,
                   d_kernel=5, d_lr=4e-4, batch_size=32, d_steps=1, g_ema=0.9)


SPACES = {"full": define_space, "small": define_small_space, "smoke": define_smoke_space}


def params_of(config: dict) -> dict:
    """A trial's params from its Tune config: flat for the Optuna searcher, under 'params' for PBT
    (search.cluster nests them so PBT can perturb them as one dict)."""
    return config.get("params", config)


def initial_population(space: str, n: int, seed: int) -> tuple[list[dict], dict[str, tuple[float, float, bool]]]:
    """PBT's starting population: `n` param dicts drawn at random from `space` (Optuna's seeded
    RandomSampler, so the same define-by-run functions serve both ways of searching), numbered
    0..n-1, and the space's continuous knobs {name: (low, high, log)}, the ones PBT perturbs."""
    import optuna
    from optuna.distributions import FloatDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    population, ranges = [], {}
    for _ in range(n):
        trial = study.ask()
        constants = SPACES[space](trial)  # suggests first: trial.params fills as it does
        population.append({**trial.params, **constants})
        ranges |= {k: (d.low, d.high, d.log) for k, d in trial.distributions.items() if isinstance(d, FloatDistribution)}
    return population, ranges


def channels(width: int, depth: int, factor: float, floor: int = 8) -> tuple[int, ...]:
    """(width, width*factor, ...) of `depth` layers, never below `floor`: the shape the seed uses."""
    return tuple(max(floor, int(width * factor**i)) for i in range(depth))


def to_gan_config(params: dict, *, epochs: int, seed: int, leads: int = 1, window: int = 400) -> GanConfig:
    """A trial's params (from `define_space`) -> GanConfig. Unknown keys raise TypeError."""
    p = {k: v for k, v in params.items() if k != "trial_number"}
    g_depth, g_width = p.pop("g_depth"), p.pop("g_width")
    d_depth, d_width = p.pop("d_depth"), p.pop("d_width")
    return GanConfig.from_dict({
        **p,
        "g_channels": list(channels(g_width, g_depth, 0.5)),
        "d_channels": list(channels(d_width, d_depth, 2.0)),
        "d_pool_every": 1,  # pool after every conv: with depth <= 4 the logit layer stays small
        "leads": leads,
        "window": window,
        "epochs": epochs,
        "seed": seed,
    })


def param_names(space: str) -> list[str]:
    """Every parameter a trial of `space` has, in the order the space suggests them, then its fixed
    values (the leaderboard's parameter columns: derived here, so they cannot drift from the space)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    params = SPACES[space](trial)
    return list(trial.params) + [k for k in params if k not in trial.params and k != "trial_number"]
