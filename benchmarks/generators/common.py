"""What every generator shares: writing files, the truth table, the link config, entry errors."""

from __future__ import annotations

import csv
import random
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1]
TRUTH_FILE = "truth.csv"
CONFIG_FILE = "link.yaml"


@dataclass(frozen=True)
class GeneratedSet:
    """A folder of source files with `truth.csv` (source, record_id, person_id) and `link.yaml`."""

    folder: Path
    config: Path
    truth: Path
    records: dict[str, int]
    people: int


def write_table(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]], encoding: str = "utf-8") -> int:
    """Write one CSV; return the number of data rows."""
    count = 0
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def finish(out: Path, truth: list[tuple[str, str, str]], config_name: str, records: dict[str, int]) -> GeneratedSet:
    """Write truth.csv and copy the shape's link config (a data file in benchmarks/) beside the sources."""
    truth_path = out / TRUTH_FILE
    write_table(truth_path, ("source", "record_id", "person_id"), truth)
    config = out / CONFIG_FILE
    shutil.copyfile(BENCHMARKS / config_name, config)
    return GeneratedSet(out, config, truth_path, records, len({person for _, _, person in truth}))


class NoisyRandom(random.Random):
    """A seeded generator whose entry errors happen `noise` times as often as the rates written in
    the generators (capped at certainty), so one generator gives its data at several noise levels."""

    def __init__(self, seed: int, noise: float = 1.0) -> None:
        super().__init__(seed)
        self.noise = noise

    def scaled(self, rate: float) -> float:
        return min(1.0, rate * self.noise)

    def error(self, rate: float) -> bool:
        """True with probability `rate` times the noise level."""
        return self.random() < self.scaled(rate)


def typo(text: str, rng: random.Random) -> str:
    """One keying slip: a dropped, doubled, swapped or replaced letter (never the first one)."""
    if len(text) < 3:
        return text
    position = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return text[:position] + text[position + 1 :]
    if kind == 1:
        return text[:position] + text[position] + text[position:]
    if kind == 2:
        return text[:position] + text[position + 1] + text[position] + text[position + 2 :]
    letters = "aeiounrstl" if text[position].islower() else "AEIOUNRSTL"
    return text[:position] + rng.choice(letters) + text[position + 1 :]


def digit_slip(digits: str, rng: random.Random) -> str:
    """One wrong or two swapped digits, as in a number copied by hand."""
    position = rng.randrange(len(digits) - 1)
    if rng.random() < 0.5 and digits[position] != digits[position + 1]:
        return digits[:position] + digits[position + 1] + digits[position] + digits[position + 2 :]
    wrong = str((int(digits[position]) + rng.randrange(1, 10)) % 10)
    return digits[:position] + wrong + digits[position + 1 :]
