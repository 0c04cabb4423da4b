"""Distributing the region's state-funded yrkesvux places between municipalities (pure, no I/O).

Each municipality's share is the distribution key applied to three parts: an equal part, its
share of the county's population and its share of the county's unemployed. Places are whole
numbers that add up exactly (largest remainder), then split between education areas by the
needs analysis. The co-funding rule (own places at least 3/7 of the state-funded ones) is checked.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from pydantic import BaseModel, Field, model_validator

CO_FUNDING = Fraction(3, 7)


class Key(BaseModel):
    equal: float = Field(0.10, ge=0)
    population: float = Field(0.45, ge=0)
    unemployment: float = Field(0.45, ge=0)

    @model_validator(mode="after")
    def _sums_to_one(self) -> "Key":
        if abs(self.equal + self.population + self.unemployment - 1) > 1e-9:
            raise ValueError("the distribution key's parts must add up to 1 (e.g. 0.10, 0.45, 0.45)")
        return self


class MunicipalityFigures(BaseModel):
    code: str
    name: str = ""
    population: int = Field(ge=0)
    unemployed: int = Field(ge=0)
    own_places: int = Field(0, ge=0, description="places the municipality funds itself")


class DistributionInput(BaseModel):
    year: int
    total_places: int = Field(gt=0, description="the region's state-funded full-year places")
    municipalities: list[MunicipalityFigures] = Field(min_length=1)
    key: Key = Field(default_factory=Key)
    regional_needs: dict[str, float] = Field(default_factory=dict, description="weight per education area")
    municipal_needs: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="municipality code -> area -> weight; overrides the regional weights")

    @model_validator(mode="after")
    def _check(self) -> "DistributionInput":
        codes = [m.code for m in self.municipalities]
        if len(set(codes)) != len(codes):
            raise ValueError("a municipality appears twice")
        if sum(m.population for m in self.municipalities) == 0:
            raise ValueError("the population figures add up to zero")
        for code, needs in self.municipal_needs.items():
            if code not in codes:
                raise ValueError(f"needs given for {code}, which is not in the list of municipalities")
            if needs and sum(needs.values()) <= 0:
                raise ValueError(f"the needs weights of {code} add up to zero")
        for weights in [self.regional_needs, *self.municipal_needs.values()]:
            if any(w < 0 for w in weights.values()):
                raise ValueError("needs weights cannot be negative")
        if self.regional_needs and sum(self.regional_needs.values()) <= 0:
            raise ValueError("the regional needs weights add up to zero")
        return self


@dataclass
class MunicipalityResult:
    code: str
    name: str
    quota: float
    places: int
    by_area: dict[str, int]
    own_places: int
    required_own_places: int
    co_funding_ok: bool
    explanation: list[str] = field(default_factory=list)


@dataclass
class DistributionResult:
    total_places: int
    municipalities: list[MunicipalityResult]
    violations: list[str]

    def as_dict(self) -> dict:
        return {
            "total_places": self.total_places,
            "municipalities": [m.__dict__ for m in self.municipalities],
            "violations": self.violations,
        }


def largest_remainder(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Whole numbers proportional to `weights` that add up to `total` exactly.

    Everyone gets the floor of their exact quota; the places left over go to the largest
    remainders, ties broken by the larger weight and then by key, so the result is reproducible.
    """
    if total < 0:
        raise ValueError("total cannot be negative")
    s = sum(weights.values())
    if not weights or s <= 0:
        if total:
            raise ValueError("cannot distribute places over zero weights")
        return {k: 0 for k in weights}
    exact = {k: Fraction(w) for k, w in weights.items()}  # exact rationals: floors never off by one
    s_exact = sum(exact.values())
    quotas = {k: total * w / s_exact for k, w in exact.items()}
    out = {k: math.floor(q) for k, q in quotas.items()}
    left = total - sum(out.values())
    order = sorted(weights, key=lambda k: (-(quotas[k] - out[k]), -weights[k], k))
    for k in order[:left]:
        out[k] += 1
    return out


def _fmt(x: float) -> str:
    return f"{x:.2f}".replace(".", ",")


def distribute(inp: DistributionInput) -> DistributionResult:
    ms = inp.municipalities
    n = len(ms)
    pop = sum(m.population for m in ms)
    unemp = sum(m.unemployed for m in ms)
    key = inp.key
    # Without any unemployed at all, that part of the key follows population instead.
    shares = {}
    for m in ms:
        u_share = m.unemployed / unemp if unemp else m.population / pop
        shares[m.code] = key.equal / n + key.population * m.population / pop + key.unemployment * u_share
    places = largest_remainder(inp.total_places, shares)
    results, violations = [], []
    for m in ms:
        quota = shares[m.code] * inp.total_places
        needs = inp.municipal_needs.get(m.code) or inp.regional_needs
        by_area = largest_remainder(places[m.code], needs) if needs else {}
        required = math.ceil(CO_FUNDING * places[m.code])
        ok = m.own_places >= required
        u_share = m.unemployed / unemp if unemp else m.population / pop
        expl = [
            f"Lika del: {key.equal:.0%} av {inp.total_places} platser delat på {n} kommuner = "
            f"{_fmt(key.equal / n * inp.total_places)}",
            f"Befolkning: {key.population:.0%} × {m.population} av {pop} invånare ({m.population / pop:.1%}) = "
            f"{_fmt(key.population * m.population / pop * inp.total_places)}",
            f"Arbetslöshet: {key.unemployment:.0%} × {m.unemployed} av {unemp} arbetslösa ({u_share:.1%}) = "
            f"{_fmt(key.unemployment * u_share * inp.total_places)}",
            f"Summa {_fmt(quota)} platser, avrundat till {places[m.code]} så att regionens {inp.total_places} "
            "platser går jämnt ut (största rest)",
        ]
        if by_area:
            src = "kommunens egen behovsanalys" if inp.municipal_needs.get(m.code) else "regionens behovsanalys"
            expl.append(f"Fördelning på områden enligt {src}: "
                        + ", ".join(f"{a} {v}" for a, v in by_area.items()))
        if ok:
            expl.append(f"Egna platser {m.own_places} uppfyller kravet på minst 3/7 av de statliga ({required})")
        else:
            msg = (f"{m.name or m.code}: {m.own_places} egna platser, men minst {required} krävs "
                   f"(3/7 av {places[m.code]} statligt finansierade)")
            expl.append("Uppfyller inte medfinansieringskravet: " + msg)
            violations.append(msg)
        results.append(MunicipalityResult(m.code, m.name, round(quota, 4), places[m.code], by_area, m.own_places,
                                          required, ok, expl))
    return DistributionResult(inp.total_places, results, violations)
