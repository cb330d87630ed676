"""Subject demographics and the cardiac phenotypes they drive (PHYSIOLOGY.md §1, §4, §7).

The regression (:func:`phenotypes_from_demographics`) is log-linear and monotone in every input. Each term and its
source:

* **Sex reference values** at the reference subject (age 40, reference height and BMI):
  LVEDV M 160 / F 135 mL (Hudsmith 2005, n=108, 21–68 y); LVEF M 58 / F 61 % (UK Biobank, Petersen 2017; gives
  LVESV = EDV·(1 − EF)); LV mass index M 53 / F 42 g/m² (UK Biobank, at age 60); RVEDV M 190 / F 148 mL, RVESV
  M 78 / F 56 mL (Hudsmith). Reference height M 176 / F 163 cm, BMI M 27.1 / F 26.2 kg/m², SBP M 141 / F 133 mmHg
  (UK Biobank cohort means).
* **Body size**: volumes and mass scale with the body surface area (Mosteller) the subject would have at the
  reference BMI, i.e. with height^1.5 ("indexing removes the sex difference in LV volumes", Hudsmith; the sex
  difference in mass and RV volumes stays through the sex-specific reference values).
* **BMI**, per SD (4.3 kg/m²) above the sex reference (UK Biobank, Petersen, PLoS One 2017): LV mass +8.3 %,
  LVEDV +4.8 %, LVESV +4.4 %, RVEDV +5.3 % (RVESV +5.3 %: RVEF held, an assumption).
* **SBP**, per SD above the sex reference (same source): LV mass +6.8 %, LVEDV +4.5 %, LVESV +2.0 %. The SD of SBP
  is not in PHYSIOLOGY.md; 19 mmHg is used [GK].
* **Age**: LV and RV volumes fall with age (UKB, Framingham); the slope −0.4 %/year is an assumption that maps the
  younger Hudsmith means (F 135 mL) onto the older UK Biobank women (~124 mL). LVEF does not change with age.
  LV mass falls with age in men (−0.3 %/year around age 60, an assumption on the sourced direction), not in women.
* **Heart rate**: M 64 / F 66 bpm (women: Rautaharju 2013; men [GK]); no demographic effect.
* **Sphericity** (ED endocardial short-axis diameter / long-axis length): 0.55 [GK; DCM is 0.72 ± 0.07, cut-off
  0.635]; no demographic effect.
* DBP, smoking and alcohol are carried but have **no effect**: PHYSIOLOGY.md gives no sourced values for them.

A seeded residual (log-normal 10 % on volumes and mass, ±4 EF points, ±7 bpm, ±0.03 sphericity) is added unless
switched off, then everything is clipped to a physiological range.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import CardioGenInputError
from .config import _number

__all__ = ["Demographics", "Phenotypes", "phenotypes_from_demographics", "bsa_mosteller", "REFERENCE"]

#: Sex-specific reference values (see the module docstring for sources).
REFERENCE: dict[str, dict[str, float]] = {
    "M": dict(height_cm=176.0, bmi=27.1, sbp=141.0, age=40.0, lvedv=160.0, lvef=58.0, lvmi=53.0, mass_age=60.0,
              rvedv=190.0, rvesv=78.0, hr=64.0),
    "F": dict(height_cm=163.0, bmi=26.2, sbp=133.0, age=40.0, lvedv=135.0, lvef=61.0, lvmi=42.0, mass_age=60.0,
              rvedv=148.0, rvesv=56.0, hr=66.0),
}
BMI_SD = 4.3  # kg/m², UK Biobank
SBP_SD = 19.0  # mmHg [GK]
#: Fractional change per SD: (mass, LVEDV, LVESV, RVEDV, RVESV).
BMI_EFFECT = dict(mass=0.083, lvedv=0.048, lvesv=0.044, rvedv=0.053, rvesv=0.053)
SBP_EFFECT = dict(mass=0.068, lvedv=0.045, lvesv=0.020, rvedv=0.0, rvesv=0.0)
AGE_VOLUME_SLOPE = -0.004  # per year (assumption, see docstring)
AGE_MASS_SLOPE_MEN = -0.003  # per year (assumption on the sourced direction)
SPHERICITY_REF = 0.55
RANGES = dict(lvedv=(60.0, 320.0), lvef=(30.0, 78.0), mass=(50.0, 320.0), rvedv=(60.0, 350.0), rvef=(30.0, 78.0),
              hr=(45.0, 110.0), sphericity=(0.42, 0.72))


def bsa_mosteller(height_cm: float, weight_kg: float) -> float:
    """Body surface area (m²), Mosteller: sqrt(height_cm · weight_kg / 3600)."""
    return math.sqrt(height_cm * weight_kg / 3600.0)


def _sex_key(sex: Any) -> str:
    key = str(sex).strip().lower()
    if key in ("m", "male", "man"):
        return "M"
    if key in ("f", "female", "woman"):
        return "F"
    raise CardioGenInputError("sex must be 'M' or 'F'", source="Demographics", got=sex)


@dataclass(frozen=True)
class Demographics:
    """A subject.

    Args:
        age: years (18..100).
        sex: "M" or "F" ("male"/"female" accepted).
        height_cm: 120..230 cm.
        weight_kg: 30..250 kg.
        sbp: systolic blood pressure (70..260 mmHg).
        dbp: diastolic blood pressure (30..160 mmHg, below sbp).
        smoking: current smoker.
        alcohol: alcohol intake (units/week, ≥ 0).
    """

    age: float = 50.0
    sex: str = "M"
    height_cm: float = 176.0
    weight_kg: float = 84.0
    sbp: float = 135.0
    dbp: float = 82.0
    smoking: bool = False
    alcohol: float = 4.0

    def __post_init__(self) -> None:
        src = "Demographics"
        setv = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        setv("age", _number(self.age, "age", 18.0, 100.0, source=src))
        setv("sex", _sex_key(self.sex))
        setv("height_cm", _number(self.height_cm, "height_cm", 120.0, 230.0, source=src))
        setv("weight_kg", _number(self.weight_kg, "weight_kg", 30.0, 250.0, source=src))
        setv("sbp", _number(self.sbp, "sbp", 70.0, 260.0, source=src))
        setv("dbp", _number(self.dbp, "dbp", 30.0, 160.0, source=src))
        if self.dbp >= self.sbp:
            raise CardioGenInputError("dbp must be below sbp", source=src, got=(self.sbp, self.dbp))
        setv("smoking", bool(self.smoking))
        setv("alcohol", _number(self.alcohol, "alcohol", 0.0, 200.0, source=src))

    @property
    def bmi(self) -> float:
        """kg/m²."""
        return self.weight_kg / (self.height_cm / 100.0) ** 2

    @property
    def bsa(self) -> float:
        """Body surface area (m², Mosteller)."""
        return bsa_mosteller(self.height_cm, self.weight_kg)

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Demographics":
        """A plausible adult drawn from ``rng`` (sex 50/50, age 25-80, sex-specific height, BMI, blood pressure)."""
        if not isinstance(rng, np.random.Generator):
            raise CardioGenInputError("rng must be a numpy.random.Generator", source="Demographics.random",
                                      got=type(rng).__name__)
        sex = "M" if rng.random() < 0.5 else "F"
        ref = REFERENCE[sex]
        age = float(rng.uniform(25.0, 80.0))
        height = float(np.clip(rng.normal(ref["height_cm"], 7.0 if sex == "M" else 6.5), 145.0, 205.0))
        bmi = float(np.clip(rng.normal(ref["bmi"], BMI_SD), 18.0, 42.0))
        sbp = float(np.clip(rng.normal(ref["sbp"] + 0.5 * (age - 55.0), 16.0), 95.0, 200.0))
        dbp = float(np.clip(0.55 * sbp + rng.normal(8.0, 7.0), 50.0, sbp - 20.0))
        weight = bmi * (height / 100.0) ** 2
        return cls(age=round(age, 1), sex=sex, height_cm=round(height, 1), weight_kg=round(weight, 1),
                   sbp=round(sbp), dbp=round(dbp), smoking=bool(rng.random() < 0.15),
                   alcohol=round(float(rng.gamma(1.2, 5.0)), 1))

    @classmethod
    def for_seed(cls, seed: int, **overrides: Any) -> "Demographics":
        """The subject :meth:`random` draws for ``seed``, with the given fields replaced (CLI and panel use this)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise CardioGenInputError("unknown demographics fields", source="Demographics", expected=sorted(known),
                                      got=sorted(unknown))
        return dataclasses.replace(cls.random(np.random.default_rng(seed)), **overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Phenotypes:
    """Global cardiac phenotypes.

    Args:
        lvedv_ml, lvesv_ml: LV end-diastolic / end-systolic blood volume (mL).
        lv_mass_g: LV myocardial mass (g, 1.05 g/mL).
        rvedv_ml, rvesv_ml: RV end-diastolic / end-systolic blood volume (mL).
        sphericity: ED endocardial short-axis diameter / long-axis length (ratio, ~0.55 normal).
        heart_rate_bpm: beats per minute.
    """

    lvedv_ml: float
    lvesv_ml: float
    lv_mass_g: float
    rvedv_ml: float
    rvesv_ml: float
    sphericity: float
    heart_rate_bpm: float

    @property
    def lvef_pct(self) -> float:
        """LV ejection fraction (%)."""
        return 100.0 * (1.0 - self.lvesv_ml / self.lvedv_ml)

    @property
    def rvef_pct(self) -> float:
        """RV ejection fraction (%)."""
        return 100.0 * (1.0 - self.rvesv_ml / self.rvedv_ml)

    @property
    def lvsv_ml(self) -> float:
        """LV stroke volume (mL)."""
        return self.lvedv_ml - self.lvesv_ml

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.update(lvef_pct=self.lvef_pct, rvef_pct=self.rvef_pct, lvsv_ml=self.lvsv_ml)
        return out


def phenotypes_from_demographics(demo: Demographics, rng: np.random.Generator | None = None) -> Phenotypes:
    """Phenotypes of a subject from the documented regression (module docstring), plus a residual from ``rng``.

    Args:
        demo: the subject.
        rng: generator for the residual; None gives the regression mean (no residual).
    """
    ref = REFERENCE[demo.sex]
    size = (demo.height_cm / ref["height_cm"]) ** 1.5  # BSA at the reference BMI, relative
    bsa_ref = bsa_mosteller(ref["height_cm"], ref["bmi"] * (ref["height_cm"] / 100.0) ** 2)
    z_bmi = (demo.bmi - ref["bmi"]) / BMI_SD
    z_sbp = (demo.sbp - ref["sbp"]) / SBP_SD
    age_vol = math.exp(AGE_VOLUME_SLOPE * (demo.age - ref["age"]))
    age_mass = math.exp(AGE_MASS_SLOPE_MEN * (demo.age - ref["mass_age"])) if demo.sex == "M" else 1.0

    def effect(name: str) -> float:
        return math.exp(math.log1p(BMI_EFFECT[name]) * z_bmi + math.log1p(SBP_EFFECT[name]) * z_sbp)

    lvedv = ref["lvedv"] * size * age_vol * effect("lvedv")
    lvesv = ref["lvedv"] * (1.0 - ref["lvef"] / 100.0) * size * age_vol * effect("lvesv")
    mass = ref["lvmi"] * bsa_ref * size * age_mass * effect("mass")
    rvedv = ref["rvedv"] * size * age_vol * effect("rvedv")
    rvesv = ref["rvesv"] * size * age_vol * effect("rvesv")
    hr = ref["hr"]
    sph = SPHERICITY_REF
    lvef = 100.0 * (1.0 - lvesv / lvedv)
    rvef = 100.0 * (1.0 - rvesv / rvedv)
    if rng is not None:
        lvedv *= math.exp(rng.normal(0.0, 0.10))
        lvef += rng.normal(0.0, 4.0)
        mass *= math.exp(rng.normal(0.0, 0.10))
        rvedv *= math.exp(rng.normal(0.0, 0.10))
        rvef += rng.normal(0.0, 4.0)
        hr += rng.normal(0.0, 7.0)
        sph += rng.normal(0.0, 0.03)
    lvedv = float(np.clip(lvedv, *RANGES["lvedv"]))
    lvef = float(np.clip(lvef, *RANGES["lvef"]))
    rvedv = float(np.clip(rvedv, *RANGES["rvedv"]))
    rvef = float(np.clip(rvef, *RANGES["rvef"]))
    return Phenotypes(
        lvedv_ml=lvedv,
        lvesv_ml=lvedv * (1.0 - lvef / 100.0),
        lv_mass_g=float(np.clip(mass, *RANGES["mass"])),
        rvedv_ml=rvedv,
        rvesv_ml=rvedv * (1.0 - rvef / 100.0),
        sphericity=float(np.clip(sph, *RANGES["sphericity"])),
        heart_rate_bpm=float(np.clip(hr, *RANGES["hr"])),
    )
