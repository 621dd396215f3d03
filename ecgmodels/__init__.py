"""ecg-search's LSTM-GANs: networks, training, evaluation metrics, and the exported generator.

The training loop is `ecgmodels.loop.train`; train-and-keep-the-best-epoch is `ecgmodels.fit.fit`;
`python -m ecgmodels.train` is the command line. None is imported here, so that the command lines
run cleanly.
"""
__version__ = "0.1.0"

from .config import VARIANTS, GanConfig, variant  # noqa: E402
from .export import ExportError, LoadedGenerator, export, load_generator  # noqa: E402

__all__ = ["VARIANTS", "ExportError", "GanConfig", "LoadedGenerator", "__version__", "export",
           "load_generator", "variant"]
