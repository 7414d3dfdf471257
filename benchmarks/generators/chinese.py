"""A community roster, a township clinic and an elderly-subsidy list of one street's families.

    python -m benchmarks.generators.chinese --people 5000 --seed 3 --out /tmp/shape-chinese
    python -m benchmarks.generators.chinese --with-ids --people 5000 --seed 3 --out /tmp/shape-chinese-ids
    python -m benchmarks.generators.chinese --with-ids --noise 2 --people 5000 --seed 3 --out /tmp/shape-noisy

Files are GB18030 CSVs with pinyin-initial headers, as exported by county-level systems:
jmda.csv (社区居民档案: XH, XM, XB 男/女, CSRQ as 1958.3.12 / 1958年3月12日 / 1958-03-12, MZ, LXDH,
JZDZ, YHZGX), wsy.csv (卫生院健康档案: BH, XM, XB 1/2, CSRQ YYYYMMDD, SJHM, XZZ; some people filed twice,
newborns under 某某之子/之女) and lnbt.csv (高龄补贴, people of 60 and over: DJH, XM, XB, CSRQ, NL, LXDH,
HJDZ, the registered address, which movers have left). No ID numbers by default.

Noise of its own: homophone characters, traditional characters, swapped given-name characters,
stray spaces, lunar birthdays for the elderly (a month or so before the solar date), partial and
two-digit-year dates, a child's phone on a parent's record, addresses written with or without
city, 栋/幢, 3-2-501.

`--with-ids` adds SFZH / ZJHM / SFZHM columns with the errors registers really hold: a family
member's valid ID whose birth date contradicts the record (a newborn under its mother's ID), the
true ID beside a lunar birthday, and IDs an Excel round trip damaged (last digits 000, 5.10107E+17).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.generators.common import GeneratedSet, NoisyRandom, digit_slip, finish, write_table

REFERENCE = dt.date(2024, 6, 30)
ENCODING = "gb18030"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
OLD_GIVEN = {
    "1": "德志建明永国海宏家文军新刚春忠兵荣福贵强勇平光辉洪成富全",
    "2": "秀兰桂玉凤芳淑翠琴英珍华梅霞云丽敏静燕红素淑惠芬菊",
}
YOUNG_GIVEN = {
    "1": "子浩宇晨博轩睿然泽俊皓一铭嘉奕阳逸辰航杰煜",
    "2": "涵萱欣怡悦诗雨梓琪可馨思彤语若安佳婉晴",
}
HOMOPHONE_GROUPS = (
    "秀绣袖", "兰蓝岚", "桂贵", "英瑛莺", "凤风丰", "芳方", "淑书舒", "翠萃", "琴勤芹", "珍真祯", "梅玫媚",
    "云芸耘", "德得", "志智治", "明铭鸣", "永勇咏", "国果", "宏洪鸿", "家佳嘉", "文闻雯", "新欣鑫", "春纯",
    "忠中钟", "荣蓉容", "福富甫", "成诚承", "辉晖徽", "子紫梓", "涵寒函", "萱轩宣", "然冉", "浩昊皓",
    "宇雨禹", "晨辰宸", "诗思", "悦月越", "怡宜仪", "睿瑞锐", "博柏", "琪淇祺", "彤桐", "晴青清", "素苏",
    "惠慧蕙", "芬纷", "菊橘", "泽则", "俊峻骏", "航杭", "杰洁",
)
HOMOPHONES = {char: group for group in HOMOPHONE_GROUPS for char in group}
TRADITIONAL = dict(
    zip(
        "张刘陈杨赵黄吴孙马罗郑谢韩冯萧邓许吕苏卢蒋贾叶阎兰凤华丽静红晓国军刚荣贵强辉伟诗轩钟鸿芸丰书云亲",
        "張劉陳楊趙黃吳孫馬羅鄭謝韓馮蕭鄧許呂蘇盧蔣賈葉閻蘭鳳華麗靜紅曉國軍剛榮貴強輝偉詩軒鍾鴻蕓豐書雲親",
        strict=True,
    )
)
DISTRICTS = (
    ("510107", "武侯区", ("玉林街道", "浆洗街街道", "簇桥街道"), ("玉林北路", "芳草街", "浆洗街", "簇锦路")),
    ("510104", "锦江区", ("书院街街道", "盐市口街道"), ("东大街", "书院西街", "盐市口路")),
    ("510106", "金牛区", ("荷花池街道", "抚琴街道"), ("荷花池路", "抚琴西路", "西安中路")),
    ("510108", "成华区", ("猛追湾街道", "双桥子街道"), ("猛追湾街", "双林路", "建设北路")),
)
COMMUNITIES = ("芳草", "兴元", "桐梓林", "锦城", "青莲", "和平", "枣子巷", "双林", "新鸿", "红星")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

Rows = Iterator[tuple[Sequence[str], str]]


@dataclass(eq=False)
class Resident:
    """One resident as they are; each source writes its own copy."""

    person_id: str
    surname: str
    given: str
    sex: str
    birth: dt.date
    id_no: str
    mobile: str
    home: tuple[str, ...]
    registered: tuple[str, ...]
    landline: str
    lunar: dt.date | None = None
    mother: Resident | None = None
    household: list[Resident] | None = None

    @property
    def age(self) -> int:
        return (REFERENCE - self.birth).days // 365

    @property
    def name(self) -> str:
        return self.surname + self.given


def id_check_character(body: str) -> str:
    """GB 11643 check character: ISO 7064 MOD 11-2 over the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(body, ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def _id_number(region: str, birth: dt.date, sex: str, rng: random.Random, taken: set[str]) -> str:
    while True:
        order = rng.randrange(0, 500) * 2 + (1 if sex == "1" else 0)
        body = f"{region}{birth:%Y%m%d}{order:03d}"
        number = body + id_check_character(body)
        if number not in taken:
            taken.add(number)
            return number


def _given(rng: random.Random, sex: str, birth: dt.date) -> str:
    pool = OLD_GIVEN[sex] if birth.year < 1985 else YOUNG_GIVEN[sex]
    length = 1 if rng.random() < 0.25 else 2
    return "".join(rng.choice(pool) for _ in range(length))


def _place(rng: random.Random) -> tuple[str, ...]:
    """A home as parts: district code, district, street office, community, road, number, building, unit, room."""
    code, district, streets, roads = rng.choice(DISTRICTS)
    return (
        code, district, rng.choice(streets), rng.choice(COMMUNITIES) + "社区", rng.choice(roads),
        str(rng.randrange(1, 300)), str(rng.randrange(1, 20)), str(rng.randrange(1, 6)),
        f"{rng.randrange(1, 30)}0{rng.randrange(1, 5)}",
    )


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"


def _birth_between(rng: random.Random, low: int, high: int) -> dt.date:
    return REFERENCE - dt.timedelta(days=rng.randrange(low * 365, high * 365 + 364))


def _families(people: int, rng: random.Random) -> list[list[Resident]]:
    """Households: elderly couples, young families with a newborn, three generations under one roof."""
    taken: set[str] = set()
    families: list[list[Resident]] = []
    count = 0

    def resident(surname: str, sex: str, birth: dt.date, home: tuple[str, ...], landline: str) -> Resident:
        nonlocal count
        count += 1
        registered = home if rng.random() < 0.75 else _place(rng)
        who = Resident(
            f"R{count:07d}", surname, _given(rng, sex, birth), sex, birth,
            _id_number(registered[0], birth, sex, rng, taken), _mobile(rng), home, registered, landline,
        )
        if who.age >= 60 and rng.random() < 0.4:
            who.lunar = birth - dt.timedelta(days=rng.randrange(20, 51))
        return who

    while count < people:
        home = _place(rng)
        landline = f"028-8{rng.randrange(10**6, 10**7)}" if rng.random() < 0.5 else ""
        kind = rng.choices(("elders", "young", "three"), (35, 40, 25))[0]
        members: list[Resident] = []
        surname = rng.choice(SURNAMES)
        if kind in ("elders", "three"):
            grandpa = resident(surname, "1", _birth_between(rng, 60, 92), home, landline)
            members.append(grandpa)
            if rng.random() < 0.75:
                age = max(58, min(95, grandpa.age + rng.randint(-5, 3)))
                members.append(resident(rng.choice(SURNAMES), "2", _birth_between(rng, age, age), home, landline))
        if kind in ("young", "three"):
            father = resident(surname, "1", _birth_between(rng, 24, 40), home, landline)
            mother_birth = _birth_between(rng, 22, min(38, father.age + 2))
            mother = resident(rng.choice(SURNAMES), "2", mother_birth, home, landline)
            members += [father, mother]
            for _ in range(rng.choices((0, 1, 2), (15, 60, 25))[0]):
                newborn = rng.random() < 0.35
                birth = _birth_between(rng, 0, 0) if newborn else _birth_between(rng, 1, max(1, mother.age - 21))
                child = resident(surname, rng.choice("12"), birth, home, landline)
                child.mother = mother
                members.append(child)
        for member in members:
            member.household = members
        families.append(members)
    return families


def _name_as_written(person: Resident, rng: NoisyRandom) -> str:
    """Homophones, traditional characters, swapped given-name characters, stray spaces."""
    given = person.given
    roll = rng.random()
    if roll < rng.scaled(0.06):
        position = rng.randrange(len(given))
        group = HOMOPHONES.get(given[position])
        if group:
            given = given[:position] + rng.choice(group) + given[position + 1 :]
    elif roll < rng.scaled(0.09) and len(given) == 2:
        given = given[::-1]
    name = person.surname + given
    if rng.error(0.04):
        name = "".join(TRADITIONAL.get(char, char) for char in name)
    if rng.error(0.03):
        name = name[0] + " " + name[1:]
    return name


def _written_date(day: dt.date, rng: random.Random, styles: tuple[str, ...]) -> str:
    style = rng.choice(styles)
    if style == "dots":
        return f"{day.year}.{day.month}.{day.day}"
    if style == "cjk":
        return f"{day.year}年{day.month}月{day.day}日"
    if style == "iso":
        return day.isoformat()
    if style == "slash":
        return day.strftime("%Y/%m/%d")
    if style == "month":
        return f"{day.year}年{day.month}月"
    if style == "short":
        return f"{day:%y}.{day.month}.{day.day}"
    return day.strftime("%Y%m%d")


def _birth_written(person: Resident, rng: NoisyRandom, lunar_rate: float, styles: tuple[str, ...]) -> str:
    day = person.lunar if person.lunar and rng.error(lunar_rate) else person.birth
    if rng.error(0.03):
        return ""
    return _written_date(day, rng, styles)


def _address_as_written(parts: tuple[str, ...], rng: random.Random) -> str:
    _, district, street, community, road, number, building, unit, room = parts
    style = rng.randrange(5)
    if style == 0:
        return f"四川省成都市{district}{street}{community}{road}{number}号{building}栋{unit}单元{room}室"
    if style == 1:
        return f"成都市{district}{road}{number}号{building}幢{unit}单元{room}号"
    if style == 2:
        return f"{district}{road}{number}号{building}-{unit}-{room}"
    if style == 3:
        return f"{community}{road}{number}号院{building}栋{unit}单元{room}"
    return f"{street}{road}{number}号{building}栋{unit}-{room}"


def _excel_damaged(id_no: str, rng: random.Random) -> str:
    """What an 18-digit ID becomes after Excel held it as a number."""
    if not id_no[-1].isdigit():
        return id_no
    if rng.random() < 0.5:
        return id_no[:15] + "000"
    return f"{int(id_no) / 10**17:.5f}".rstrip("0").rstrip(".") + "E+17"


def _id_written(person: Resident, rng: NoisyRandom, excel_rate: float) -> str:
    """The ID on a record: mostly the person's own; sometimes a relative's, a slip, none, or Excel's."""
    roll = rng.random()
    family = [m for m in person.household or [] if m is not person]
    if person.mother is not None and person.age == 0 and roll < 0.5:
        return person.mother.id_no
    if roll < rng.scaled(0.04):
        return ""
    if roll < rng.scaled(0.06) and family:
        return rng.choice(family).id_no
    if roll < rng.scaled(0.075):
        return digit_slip(person.id_no[:17], rng) + person.id_no[17]
    if rng.error(excel_rate):
        return _excel_damaged(person.id_no, rng)
    return person.id_no.lower() if rng.random() < 0.3 else person.id_no


def _roster(families: list[list[Resident]], rng: NoisyRandom, with_ids: bool) -> Rows:
    number = 0
    relation = {0: "户主", 1: "配偶"}
    for members in families:
        for index, person in enumerate(members):
            if rng.random() < 0.07:
                continue
            number += 1
            row = [
                f"{number:06d}",
                _name_as_written(person, rng),
                {"1": "男", "2": "女"}[person.sex] if not rng.error(0.02) else "",
                _birth_written(person, rng, 0.3, ("dots", "cjk", "iso")),
                "汉族" if rng.random() < 0.95 else "回族",
                (person.mobile if rng.random() < 0.7 else person.landline) if not rng.error(0.08) else "",
                _address_as_written(person.home, rng),
                relation.get(index, "子女" if person.mother else "其他"),
            ]
            if with_ids:
                row.insert(2, _id_written(person, rng, 0.0))
            yield row, person.person_id


def _clinic(families: list[list[Resident]], rng: NoisyRandom, with_ids: bool) -> Rows:
    number = 0
    for members in families:
        for person in members:
            if rng.random() < 0.2:
                continue
            for copy in range(2 if rng.random() < 0.08 else 1):
                number += 1
                name = _name_as_written(person, rng)
                if person.age == 0 and person.mother is not None and copy == 0 and rng.random() < 0.8:
                    name = person.mother.name + ("之子" if person.sex == "1" else "之女")
                phone = person.mobile
                if person.age < 16 and person.mother is not None:
                    phone = person.mother.mobile
                row = [
                    f"WSY{number:07d}",
                    name,
                    person.sex if not rng.error(0.05) else "9",
                    _birth_written(person, rng, 0.1, ("compact", "compact", "compact", "slash")),
                    phone if not rng.error(0.1) else "",
                    _address_as_written(person.home, rng),
                ]
                if with_ids:
                    row.insert(2, _id_written(person, rng, 0.0))
                yield row, person.person_id


def _subsidy(families: list[list[Resident]], rng: NoisyRandom, with_ids: bool) -> Rows:
    number = 0
    for members in families:
        young = [m for m in members if 18 <= m.age < 60]
        for person in members:
            if person.age < 60 or rng.random() < 0.15:
                continue
            number += 1
            phone = rng.choice(young).mobile if young and rng.random() < 0.5 else person.mobile
            row = [
                f"GL{REFERENCE.year}{number:05d}",
                _name_as_written(person, rng),
                {"1": "男", "2": "女"}[person.sex],
                _birth_written(person, rng, 0.7, ("cjk", "dots", "month", "short")),
                str(person.age),
                phone if not rng.error(0.05) else "",
                _address_as_written(person.registered, rng),
            ]
            if with_ids:
                row.insert(2, _id_written(person, rng, 0.3))
            yield row, person.person_id


HEADERS = {
    "jmda": (("XH", "XM", "XB", "CSRQ", "MZ", "LXDH", "JZDZ", "YHZGX"), "SFZH"),
    "wsy": (("BH", "XM", "XB", "CSRQ", "SJHM", "XZZ"), "ZJHM"),
    "lnbt": (("DJH", "XM", "XB", "CSRQ", "NL", "LXDH", "HJDZ"), "SFZHM"),
}


def generate(people: int, seed: int, out: Path, with_ids: bool = False, noise: float = 1.0) -> GeneratedSet:
    """Write the three lists of `people` residents (GB18030), truth.csv and link.yaml into `out`;
    noise scales every entry-error rate (2.0: twice as many slips, missing values and wrong IDs)."""
    out.mkdir(parents=True, exist_ok=True)
    rng = NoisyRandom(seed, noise)
    families = _families(people, rng)
    truth: list[tuple[str, str, str]] = []
    records: dict[str, int] = {}
    for source, rows in (
        ("jmda", _roster(families, rng, with_ids)),
        ("wsy", _clinic(families, rng, with_ids)),
        ("lnbt", _subsidy(families, rng, with_ids)),
    ):
        columns, id_column = HEADERS[source]
        header = [*columns[:2], id_column, *columns[2:]] if with_ids else list(columns)
        written = []
        for row, person_id in rows:
            written.append(row)
            truth.append((source, row[0], person_id))
        records[source] = write_table(out / f"{source}.csv", header, written, encoding=ENCODING)
    return finish(out, truth, "shape_chinese_ids.yaml" if with_ids else "shape_chinese.yaml", records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--with-ids", action="store_true", help="add ID numbers with the errors registers hold")
    parser.add_argument("--noise", type=float, default=1.0, help="scale every entry-error rate")
    args = parser.parse_args()
    made = generate(args.people, args.seed, args.out, args.with_ids, args.noise)
    print(f"{made.folder}: {made.people} people, records {made.records}; config {made.config}")


if __name__ == "__main__":
    main()
