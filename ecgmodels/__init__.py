"""ecg-search's LSTM-GANs: networks, training, evaluation metrics, and the exported generator.

Training lives in `ecgmodels.train` (`from ecgmodels.train import train`); it is not imported here so
that `python -m ecgmodels.train` runs cleanly.
"""
__version__ = "0.1.0"

from .config import VARIANTS, GanConfig, variant  # noqa: E402
from .export import ExportError, LoadedGenerator, export, load_generator  # noqa: E402

__all__ = ["VARIANTS", "ExportError", "GanConfig", "LoadedGenerator", "__version__", "export",
           "load_generator", "variant"]
