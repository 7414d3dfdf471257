"""Census, social-security and tax-form registers of one town's households, with known truth.

    python -m benchmarks.generators.census --people 5000 --seed 3 --out /tmp/shape-census
    python -m benchmarks.generators.census --region eu --people 5000 --seed 3 --out /tmp/shape-census-eu
    python -m benchmarks.generators.census --chain-households --people 2000 --seed 3 --out /tmp/shape-chain

Writes census.csv (one enumeration per person, no SSN, dates MM/DD/YYYY in the US and DD.MM.YYYY in
the European variant, some people counted twice), ssa.csv (the social-security register: upper-case
names, dates YYYYMMDD, no address; a second card after a name change) and tax.csv (one form per
adult per filing year, addresses as of that year, SSN with slips), plus truth.csv and link.yaml.

Households share surname, address and landline. Entry errors: typos, nicknames (Bob for Robert),
first and last name swapped, middle names in the first-name field, missing values, surnames
changed at marriage, people who moved between filings, Jr./Sr. of one name at one address, twins,
a spouse's SSN on a joint form; in the European variant, tax forms filed in ASCII (Müller as Mueller,
Dvořák as Dvorak).

`--chain-households` makes large households and extended families with few distinguishing fields
(birth dates mostly missing, first names from a small pool, shared phone and address), so record
pairs chain across relatives: the case a matching model's own checks must notice.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.generators.common import GeneratedSet, digit_slip, finish, typo, write_table

CENSUS_DAY = dt.date(2020, 4, 1)
TAX_YEARS = (2021, 2022, 2023)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())

Rows = Iterator[tuple[Sequence[str], str]]


@dataclass(frozen=True)
class Region:
    """A country's names, streets, towns and written forms."""

    male: tuple[str, ...]
    female: tuple[str, ...]
    surnames: tuple[str, ...]
    nicknames: dict[str, tuple[str, ...]]
    streets: tuple[str, ...]
    towns: tuple[tuple[str, str, str], ...]
    census_date: str
    phone_prefixes: tuple[str, ...]


US = Region(
    male=_words(
        "James Robert John Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew "
        "Anthony Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Edward Ronald Timothy Jason "
        "Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin Samuel "
        "Gregory Frank Alexander Raymond Patrick Jack Dennis Jerry Tyler Aaron Henry Douglas Peter Walter"
    ),
    female=_words(
        "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Nancy Lisa Margaret Betty "
        "Sandra Ashley Dorothy Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Rebecca "
        "Laura Sharon Cynthia Kathleen Amy Shirley Angela Helen Anna Brenda Pamela Nicole Samantha Katherine "
        "Christine Debra Rachel Catherine Carolyn Janet Ruth Maria Heather Diane Virginia Julie Joyce Victoria"
    ),
    surnames=_words(
        "Smith Johnson Williams Brown Jones Miller Davis Garcia Rodriguez Wilson Martinez Anderson Taylor "
        "Thomas Hernandez Moore Martin Jackson Thompson White Lopez Lee Gonzalez Harris Clark Lewis Robinson "
        "Walker Perez Hall Young Allen Sanchez Wright King Scott Green Baker Adams Nelson Hill Ramirez "
        "Campbell Mitchell Roberts Carter Phillips Evans Turner Torres Parker Collins Edwards Stewart Flores "
        "Morris Nguyen Murphy Rivera Cook Rogers Morgan Peterson Cooper Reed Bailey Bell Gomez Kelly Howard "
        "Ward Cox Diaz Richardson Wood Watson Brooks Bennett Gray James Reyes Cruz Hughes Price Myers Long "
        "Foster Sanders Ross Morales Powell Sullivan Russell Ortiz Jenkins Gutierrez Perry Butler Barnes "
        "Fisher Henderson Coleman Simmons Patterson Jordan Reynolds Hamilton Graham Kim Wallace OConnor"
    ),
    nicknames={
        "Robert": ("Bob", "Rob", "Bobby"), "William": ("Bill", "Will", "Billy"), "Richard": ("Rick", "Dick"),
        "James": ("Jim", "Jimmy"), "John": ("Jack", "Johnny"), "Michael": ("Mike",), "Joseph": ("Joe",),
        "Thomas": ("Tom", "Tommy"), "Charles": ("Chuck", "Charlie"), "Christopher": ("Chris",),
        "Daniel": ("Dan", "Danny"), "Matthew": ("Matt",), "Anthony": ("Tony",), "Donald": ("Don",),
        "Steven": ("Steve",), "Andrew": ("Andy", "Drew"), "Kenneth": ("Ken", "Kenny"), "Edward": ("Ed", "Ted"),
        "Ronald": ("Ron",), "Timothy": ("Tim",), "Jeffrey": ("Jeff",), "Nicholas": ("Nick",),
        "Jonathan": ("Jon",), "Benjamin": ("Ben",), "Samuel": ("Sam",), "Gregory": ("Greg",),
        "Alexander": ("Alex",), "Patrick": ("Pat",), "Douglas": ("Doug",), "Elizabeth": ("Liz", "Beth", "Betty"),
        "Patricia": ("Pat", "Patty", "Trish"), "Jennifer": ("Jen", "Jenny"), "Margaret": ("Peggy", "Maggie"),
        "Susan": ("Sue",), "Kimberly": ("Kim",), "Deborah": ("Debbie", "Deb"), "Rebecca": ("Becky",),
        "Katherine": ("Kate", "Kathy"), "Catherine": ("Cathy", "Kate"), "Samantha": ("Sam",),
        "Victoria": ("Vicky",), "Pamela": ("Pam",), "Cynthia": ("Cindy",), "Christine": ("Chris",),
        "Stephanie": ("Steph",), "Amanda": ("Mandy",), "Kathleen": ("Kathy",), "Dorothy": ("Dot",),
    },
    streets=(
        "Oak St", "Maple Ave", "Cedar Ln", "Pine St", "Elm St", "Washington Ave", "Lake Rd", "Hill St",
        "Park Ave", "Main St", "2nd St", "3rd St", "Lincoln Blvd", "Jefferson Dr", "Walnut St", "Cherry Ln",
        "Sunset Blvd", "Highland Ave", "Meadow Dr", "River Rd", "Church St", "Spring St", "Ridge Rd",
        "Willow Way", "Chestnut St", "Franklin Ave", "Forest Dr", "Madison St", "Grove St", "Mill Rd",
    ),
    towns=(
        ("Springfield", "IL", "62704"), ("Springfield", "IL", "62702"), ("Decatur", "IL", "62521"),
        ("Champaign", "IL", "61820"), ("Urbana", "IL", "61801"), ("Peoria", "IL", "61604"),
        ("Bloomington", "IL", "61701"), ("Normal", "IL", "61761"),
    ),
    census_date="%m/%d/%Y",
    phone_prefixes=("217", "309", "447"),
)

EU = Region(
    male=_words(
        "Johannes Maximilian Alexander Friedrich Wolfgang Andreas Stefan Thomas Michael Matthias Christian "
        "Jan Lukas Florian Tobias Sebastian Pieter Willem Hendrik Jean Pierre François Louis Nicolas "
        "Giuseppe Giovanni Francesco Antonio Marco Luca Lars Henrik Mikael Josef Karl Heinrich Jürgen Dieter"
    ),
    female=_words(
        "Elisabeth Katharina Johanna Margarethe Susanne Christina Stefanie Anna Maria Sophie Laura Julia "
        "Franziska Sabine Monika Ursula Petra Anke Marieke Sanne Femke Marie Camille Hélène Isabelle Giulia "
        "Francesca Chiara Giuseppina Ingrid Astrid Birgit Gabriele Theresa Veronika Magdalena"
    ),
    surnames=_words(
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer "
        "Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Schmitt "
        "Werner Krause Meier Lehmann de_Vries Jansen van_den_Berg Bakker Visser Smit Dubois Lefèvre Moreau "
        "Laurent Bernard Rossi Russo Ferrari Esposito Bianchi Romano Colombo Andersson Johansson Nilsson "
        "Gruber Huber Pichler Steiner Moser Mayer Berger Fuchs Eder Novák Dvořák Kowalski Nowak"
    ),
    nicknames={
        "Johannes": ("Hans", "Jo"), "Maximilian": ("Max", "Maxi"), "Alexander": ("Alex", "Sascha"),
        "Friedrich": ("Fritz",), "Wolfgang": ("Wolf",), "Andreas": ("Andi",), "Matthias": ("Matze",),
        "Christian": ("Chris",), "Sebastian": ("Basti",), "Josef": ("Sepp", "Beppi"), "Giuseppe": ("Beppe",),
        "Giovanni": ("Gianni",), "Francesco": ("Franco",), "Heinrich": ("Heinz",), "Hendrik": ("Henk",),
        "Willem": ("Wim",), "Elisabeth": ("Lisa", "Elsbeth", "Sissi"), "Katharina": ("Kathi", "Kati"),
        "Johanna": ("Hanna",), "Margarethe": ("Grete", "Gretel"), "Susanne": ("Susi",),
        "Christina": ("Tina",), "Stefanie": ("Steffi",), "Franziska": ("Franzi",), "Magdalena": ("Lena",),
        "Veronika": ("Vroni",), "Giuseppina": ("Pina",), "Theresa": ("Resi",), "Gabriele": ("Gabi",),
    },
    streets=(
        "Hauptstraße", "Bahnhofstraße", "Lindenstraße", "Schulstraße", "Gartenstraße", "Kirchweg",
        "Bergstraße", "Waldstraße", "Am Markt", "Rosenweg", "Mühlenweg", "Dorfstraße", "Kastanienallee",
        "Parkstraße", "Wiesenweg", "Goethestraße", "Schillerplatz", "Ringstraße",
    ),
    towns=(
        ("Freiburg", "BW", "79098"), ("Freiburg", "BW", "79102"), ("Offenburg", "BW", "77652"),
        ("Lahr", "BW", "77933"), ("Emmendingen", "BW", "79312"), ("Kehl", "BW", "77694"),
    ),
    census_date="%d.%m.%Y",
    phone_prefixes=("0761", "0781", "07821"),
)

REGIONS = {"us": US, "eu": EU}
STREET_SPELLINGS = {
    "St": ("Street", "St.", "ST"), "Ave": ("Avenue", "Av.", "AVE"), "Ln": ("Lane", "LN"),
    "Rd": ("Road", "RD"), "Blvd": ("Boulevard", "Blvd."), "Dr": ("Drive", "Dr."), "Way": ("WAY",),
    "straße": ("str.", "strasse", "Str."), "weg": ("Weg", "-Weg"), "allee": ("Allee",),
}


@dataclass
class Person:
    """One person as the world knows them; the sources write noisy copies."""

    person_id: str
    first: str
    middle: str
    last: str
    sex: str
    birth: dt.date
    ssn: str
    phone: str
    maiden: str = ""
    suffix: str = ""
    addresses: list[tuple[int, str]] = field(default_factory=list)

    def address_in(self, year: int) -> str:
        """The address held in `year` (moves happen at the start of a year)."""
        current = self.addresses[0][1]
        for since, address in self.addresses:
            if since <= year:
                current = address
        return current


def _ssn(rng: random.Random, taken: set[str], region: Region) -> str:
    while True:
        if region is US:
            area = rng.choice([a for a in range(1, 900) if a != 666])
            number = f"{area:03d}{rng.randrange(1, 100):02d}{rng.randrange(1, 10000):04d}"
        else:
            number = f"{rng.randrange(1, 10)}{rng.randrange(10**9, 10**10)}"
        if number not in taken:
            taken.add(number)
            return number


def _phone(rng: random.Random, region: Region) -> str:
    if region is US:
        return f"{rng.choice(region.phone_prefixes)}{rng.randrange(200, 1000)}{rng.randrange(10000):04d}"
    return f"{rng.choice(region.phone_prefixes)}{rng.randrange(100000, 10000000)}"


def _address(rng: random.Random, region: Region) -> str:
    """Street, number and town as one canonical line; sources re-spell it."""
    city, state, postcode = rng.choice(region.towns)
    street = rng.choice(region.streets)
    number = rng.randrange(1, 400 if region is US else 120)
    unit = f" Apt {rng.randrange(1, 30)}" if region is US and rng.random() < 0.25 else ""
    if region is US:
        return f"{number} {street}{unit}|{city}|{state}|{postcode}"
    return f"{street} {number}|{city}|{state}|{postcode}"


def _birth(rng: random.Random, age_low: int, age_high: int) -> dt.date:
    age_days = rng.randrange(age_low * 365, age_high * 365 + 364)
    return CENSUS_DAY - dt.timedelta(days=age_days)


def _first(rng: random.Random, region: Region, sex: str, pool: int | None) -> str:
    names = region.male if sex == "M" else region.female
    return rng.choice(names[:pool] if pool else names)


def _households(people: int, rng: random.Random, region: Region, chain: bool) -> list[list[Person]]:
    """Families: a head, maybe a spouse, children (a Jr., twins), sometimes a parent; chains if asked."""
    taken: set[str] = set()
    households: list[list[Person]] = []
    count = 0
    pool = 6 if chain else None

    def person(first: str, last: str, sex: str, birth: dt.date, phone: str) -> Person:
        nonlocal count
        count += 1
        middle = _first(rng, region, sex, None) if rng.random() < 0.6 else ""
        return Person(f"P{count:07d}", first, middle, last, sex, birth, _ssn(rng, taken, region), phone)

    while count < people:
        surname = rng.choice(region.surnames[:12] if chain else region.surnames)
        home = _address(rng, region)
        landline = _phone(rng, region)
        moved = rng.random() < 0.25
        later = (_address(rng, region), _phone(rng, region)) if moved else None
        move_year = rng.choice((2019, 2022, 2023))
        members: list[Person] = []
        head_sex = rng.choice("MF")
        head = person(_first(rng, region, head_sex, pool), surname, head_sex, _birth(rng, 24, 85), landline)
        members.append(head)
        size = rng.randint(6, 14) if chain else rng.choices((1, 2, 3, 4, 5, 6), (28, 33, 16, 14, 6, 3))[0]
        if size >= 2 and rng.random() < 0.8:
            spouse_sex = "F" if head_sex == "M" else "M"
            spouse_age = max(20, min(90, (CENSUS_DAY - head.birth).days // 365 + rng.randint(-6, 6)))
            spouse_birth = _birth(rng, spouse_age, spouse_age)
            spouse = person(_first(rng, region, spouse_sex, pool), surname, spouse_sex, spouse_birth, landline)
            if spouse_sex == "F" and rng.random() < 0.6:
                spouse.maiden = rng.choice(region.surnames)
            members.append(spouse)
        head_age = (CENSUS_DAY - head.birth).days // 365
        while len(members) < size and count < people:
            if chain and rng.random() < 0.35:
                relative_sex = rng.choice("MF")
                relative = person(
                    _first(rng, region, relative_sex, pool), surname, relative_sex, _birth(rng, 18, 80), landline
                )
                members.append(relative)
                continue
            if head_age < 19:
                break
            child_sex = rng.choice("MF")
            twin = members[-1] if len(members) > 2 and rng.random() < 0.06 else None
            birth = twin.birth if twin else _birth(rng, 0, min(head_age - 18, 40))
            child = person(_first(rng, region, child_sex, pool), surname, child_sex, birth, landline)
            father = next((m for m in members if m.sex == "M" and m is not child), None)
            if region is US and child_sex == "M" and father is not None and rng.random() < 0.12:
                child.first, child.middle, child.suffix = father.first, father.middle, "Jr"
                father.suffix = father.suffix or "Sr"
            members.append(child)
        for member in members:
            own_phone = _phone(rng, region) if rng.random() < 0.3 else landline
            member.phone = own_phone
            member.addresses = [(0, home)]
            if later is not None:
                member.addresses.append((move_year, later[0]))
                if member.phone == landline:
                    member.phone = later[1]
        households.append(members)
    return households


def _spell_street(line: str, rng: random.Random) -> str:
    """The same street written another way: Street for St, upper case, abbreviated or not."""
    for short, longs in STREET_SPELLINGS.items():
        if short in line and rng.random() < 0.5:
            line = line.replace(short, rng.choice(longs), 1)
            break
    if rng.random() < 0.15:
        line = line.upper()
    if " Apt " in line and rng.random() < 0.4:
        line = line.replace(" Apt ", rng.choice((" #", ", Apt. ", " Unit ")))
    return line


def _first_as_written(person: Person, region: Region, rng: random.Random, nickname_rate: float) -> str:
    first = person.first
    options = region.nicknames.get(first)
    if options and rng.random() < nickname_rate:
        first = rng.choice(options)
    if person.middle and rng.random() < 0.08:
        first = f"{first} {person.middle}"
    if rng.random() < 0.04:
        first = typo(first, rng)
    return first


def _last_as_written(person: Person, rng: random.Random, maiden: bool) -> str:
    last = person.maiden if maiden and person.maiden else person.last
    last = last.replace("_", " ")
    if person.maiden and not maiden and rng.random() < 0.15:
        last = f"{person.maiden.replace('_', ' ')}-{last}"
    if rng.random() < 0.04:
        last = typo(last, rng)
    return last


def _blank(value: str, rng: random.Random, rate: float) -> str:
    return "" if rng.random() < rate else value


def _written_birth(birth: dt.date, rng: random.Random, fmt: str) -> str:
    """A birth date as a clerk wrote it: mostly right, sometimes a day or a year off."""
    roll = rng.random()
    if roll < 0.015:
        birth = birth.replace(year=birth.year + rng.choice((-1, 1))) if (birth.month, birth.day) != (2, 29) else birth
    elif roll < 0.03:
        birth = birth + dt.timedelta(days=rng.choice((-1, 1, 10)))
    return birth.strftime(fmt)


def _census_rows(households: list[list[Person]], rng: random.Random, region: Region, chain: bool) -> Rows:
    """Census: household by household, some people missed, some counted twice at their old address."""
    number = 0
    missing_birth = 0.7 if chain else 0.04
    for members in households:
        for person in members:
            if rng.random() < 0.08:
                continue
            copies = [CENSUS_DAY.year]
            if len(person.addresses) > 1 and rng.random() < 0.25:
                moved_before_census = person.addresses[1][0] <= CENSUS_DAY.year
                copies.append(CENSUS_DAY.year - 2 if moved_before_census else person.addresses[1][0])
            for year in copies:
                number += 1
                first = _first_as_written(person, region, rng, 0.12)
                last = _last_as_written(person, rng, maiden=False)
                if rng.random() < 0.02:
                    first, last = last, first
                street, city, state, postcode = person.address_in(year).split("|")
                yield (
                    f"C{number:07d}",
                    last,
                    first,
                    person.middle[:1] if rng.random() < 0.7 else "",
                    person.suffix if rng.random() < 0.6 else "",
                    _blank(person.sex, rng, 0.02),
                    _blank(_written_birth(person.birth, rng, region.census_date), rng, missing_birth),
                    _spell_street(street, rng),
                    city,
                    state,
                    _blank(postcode, rng, 0.05),
                    _blank(person.phone, rng, 0.15),
                ), person.person_id


def _ssa_rows(households: list[list[Person]], rng: random.Random, region: Region, chain: bool) -> Rows:
    """Social security: one card per person with a number, a second card after a change of name."""
    number = 0
    missing_birth = 0.6 if chain else 0.01
    for members in households:
        for person in members:
            if rng.random() < 0.1:
                continue
            cards = [True, False] if person.maiden and rng.random() < 0.5 else [bool(person.maiden)]
            for maiden in cards:
                number += 1
                given = person.first if rng.random() < 0.7 or not person.middle else f"{person.first} {person.middle}"
                if rng.random() < 0.02:
                    given = typo(given, rng)
                surname = (person.maiden if maiden else person.last).replace("_", " ")
                yield (
                    f"N{number:07d}",
                    person.ssn,
                    surname.upper(),
                    given.upper(),
                    _blank(_written_birth(person.birth, rng, "%Y%m%d"), rng, missing_birth),
                    {"M": "1", "F": "2"}[person.sex],
                ), person.person_id


def _format_phone(phone: str, region: Region, rng: random.Random) -> str:
    if region is US:
        return rng.choice((f"({phone[:3]}) {phone[3:6]}-{phone[6:]}", f"{phone[:3]}-{phone[3:6]}-{phone[6:]}", phone))
    return rng.choice((phone, f"+49 {phone[1:]}", f"{phone[:4]}/{phone[4:]}"))


ASCII_FORM_RATE = 0.4
_DIGRAPHS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})


def _ascii(text: str) -> str:
    """A name as an ASCII-only form gets it: German umlauts as digraphs (Müller -> Mueller), other
    accents dropped (Dvořák -> Dvorak, Hélène -> Helene)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_DIGRAPHS))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _tax_rows(households: list[list[Person]], rng: random.Random, region: Region) -> Rows:
    """Tax forms: every adult who files, once per year, at that year's address; joint filers may swap SSNs."""
    number = 0
    for members in households:
        spouse_ssn = {m.person_id: o.ssn for m in members[:2] for o in members[:2] if o is not m}
        for person in members:
            if (dt.date(TAX_YEARS[0], 1, 1) - person.birth).days < 18 * 365:
                continue
            for year in TAX_YEARS:
                if rng.random() < 0.3:
                    continue
                number += 1
                ssn = person.ssn
                roll = rng.random()
                if roll < 0.03:
                    ssn = digit_slip(ssn, rng)
                elif roll < 0.06:
                    ssn = ""
                elif roll < 0.075 and person.person_id in spouse_ssn:
                    ssn = spouse_ssn[person.person_id]
                if ssn and region is US and rng.random() < 0.5:
                    ssn = f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}"
                first = _first_as_written(person, region, rng, 0.08)
                if person.middle and rng.random() < 0.3:
                    first = f"{first} {person.middle[0]}"
                last = _last_as_written(person, rng, maiden=False)
                if rng.random() < 0.01:
                    first, last = last, first
                street, city, state, postcode = person.address_in(year).split("|")
                if region is EU and rng.random() < ASCII_FORM_RATE:
                    first, last, street = _ascii(first), _ascii(last), _ascii(street)
                yield (
                    f"T{year}-{number:07d}",
                    str(year),
                    ssn,
                    first.upper() if rng.random() < 0.3 else first,
                    last.upper() if rng.random() < 0.3 else last,
                    _spell_street(street, rng),
                    city,
                    state,
                    postcode,
                    _blank(_format_phone(person.phone, region, rng), rng, 0.3),
                ), person.person_id


CENSUS_HEADER = (
    "RecordID", "LastName", "FirstName", "MiddleInit", "Suffix", "Sex", "BirthDate",
    "Address", "City", "State", "ZIP", "Phone",
)
SSA_HEADER = ("record_no", "ssn", "surname", "given_name", "dob", "sex_code")
TAX_HEADER = ("form_id", "tax_year", "taxpayer_ssn", "first", "last", "street", "city", "state", "zip", "phone")


def generate(
    people: int, seed: int, out: Path, region: str = "us", chain_households: bool = False
) -> GeneratedSet:
    """Write the three registers of `people` people, truth.csv and link.yaml into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    place = REGIONS[region]
    households = _households(people, rng, place, chain_households)
    truth: list[tuple[str, str, str]] = []
    records: dict[str, int] = {}
    tables = (
        ("census", "census.csv", CENSUS_HEADER, _census_rows(households, rng, place, chain_households)),
        ("ssa", "ssa.csv", SSA_HEADER, _ssa_rows(households, rng, place, chain_households)),
        ("tax", "tax.csv", TAX_HEADER, _tax_rows(households, rng, place)),
    )
    for source, file_name, header, rows in tables:
        written = []
        for row, person_id in rows:
            written.append(row)
            truth.append((source, row[0], person_id))
        records[source] = write_table(out / file_name, header, written)
    return finish(out, truth, "shape_census.yaml", records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--region", choices=sorted(REGIONS), default="us")
    parser.add_argument("--chain-households", action="store_true", help="large households that chain together")
    args = parser.parse_args()
    made = generate(args.people, args.seed, args.out, args.region, args.chain_households)
    print(f"{made.folder}: {made.people} people, records {made.records}; config {made.config}")


if __name__ == "__main__":
    main()
