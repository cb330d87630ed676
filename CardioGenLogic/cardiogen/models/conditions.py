"""Chapter 6's demographic and clinical conditions (seed 001) and the phenotypes measured on a generated heart: names,
units, normalisation and the ranges the Slicer form and the CLI offer. No torch here (the CLI's parser reads it)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Factor:
    """One condition: ``value ↦ (value − centre) / scale`` (sex: M = +1, F = −1; smoking: yes = 1, no = 0)."""

    name: str
    label: str
    unit: str
    centre: float
    scale: float
    minimum: float
    maximum: float
    default: float
    kind: str = "number"  # "number", "sex" or "bool"


#: Chapter 6's conditions, in the order of the condition vector. The ranges (the Slicer form's and the CLI's) are the
#: phantom population the model learns from (:meth:`cardiogen.phantom.Demographics.random`: age 25-80, height
#: 145-205 cm, BMI 18-42, SBP 95-200 mmHg): a profile outside them is refused, not extrapolated.
FACTORS: tuple[Factor, ...] = (
    Factor("age", "Age", "years", 55.0, 15.0, 25.0, 80.0, 55.0),
    Factor("sex", "Sex", "", 0.0, 1.0, -1.0, 1.0, 1.0, kind="sex"),
    Factor("height_cm", "Height", "cm", 170.0, 10.0, 145.0, 205.0, 176.0),
    Factor("weight_kg", "Weight", "kg", 78.0, 15.0, 40.0, 130.0, 84.0),
    Factor("sbp", "Systolic pressure", "mmHg", 135.0, 20.0, 95.0, 200.0, 135.0),
    Factor("dbp", "Diastolic pressure", "mmHg", 80.0, 10.0, 50.0, 130.0, 82.0),
    Factor("smoking", "Current smoker", "", 0.0, 1.0, 0.0, 1.0, 0.0, kind="bool"),
    Factor("alcohol", "Alcohol", "units/week", 6.0, 8.0, 0.0, 40.0, 4.0),
)
FACTOR_NAMES = tuple(f.name for f in FACTORS)
#: Body-mass index range of the phantom population (kg/m²): height and weight given together must fall in it.
BMI_RANGE = (18.0, 42.0)
#: Factors the phantom's demographics model uses (the others carry no effect there, PHYSIOLOGY.md gives none).
EFFECTIVE_FACTORS = ("age", "sex", "height_cm", "weight_kg", "sbp")
#: Phenotypes measured on a generated or phantom cycle: key -> (abbreviation, name, unit), for tables and reports.
PHENOTYPE_LABELS = {"lvedv_ml": ("LVEDV", "LV end-diastolic volume", "mL"),
                    "lvesv_ml": ("LVESV", "LV end-systolic volume", "mL"),
                    "lvef_pct": ("LVEF", "LV ejection fraction", "%"),
                    "lv_mass_g": ("LV mass", "LV mass", "g"),
                    "rvedv_ml": ("RVEDV", "RV end-diastolic volume", "mL"),
                    "rvesv_ml": ("RVESV", "RV end-systolic volume", "mL")}
PHENOTYPES = tuple(PHENOTYPE_LABELS)
