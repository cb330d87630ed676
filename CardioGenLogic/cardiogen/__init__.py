"""CardioGen: generative cardiac imaging (headless library).

Importing ``cardiogen`` is light: it loads the typed containers and errors only. Readers, the phantom,
pipelines and models are imported from their sub-packages (``cardiogen.io``, ``cardiogen.phantom`` ...).
This package never imports slicer, qt, ctk or vtk.
"""
from .data import DenseSeries, DisplacementSeries, Ecg, Geometry, ImageSeries, LabelInfo, Segmentation, StrainSeries
from .errors import CardioGenError, CardioGenInputError, CardioGenWeightsError

__version__ = "0.1.0"

__all__ = [
    "CardioGenError",
    "CardioGenInputError",
    "CardioGenWeightsError",
    "DenseSeries",
    "DisplacementSeries",
    "Ecg",
    "Geometry",
    "ImageSeries",
    "LabelInfo",
    "Segmentation",
    "StrainSeries",
    "__version__",
]
