"""Synthetic national DREAM wide table: persons, weekly benefit histories and the column families.

``generate(persons, seed, out)`` writes one Parquet file in the real DREAM wide format (DOMAIN.md §2) and a
population table next to it. See ``dream.synth.api`` for the arguments and the modules for what each part
models: ``persons`` (CPR, age, exits), ``states`` and ``histories`` (benefit spells), ``residence``
(``nykom`` and the population table), ``families`` (monthly, quarterly and yearly columns).
"""

from dream.synth.api import SynthResult, generate

__all__ = ["SynthResult", "generate"]
