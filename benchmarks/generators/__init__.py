"""Record sets of other shapes than the shared bench, each with its truth and a `hub link` config.

- `census`: a US (or European) census, social-security and tax-form register of the same people,
  Latin names split into first and last, households, several forms per person.
- `chinese`: a community roster, a clinic and an elderly-subsidy list in GB18030 with pinyin-initial
  headers, no ID numbers unless asked for (then with the ID errors real registers hold).

Standard library only, deterministic by seed; run `python -m benchmarks.generators.census --help`.
"""
