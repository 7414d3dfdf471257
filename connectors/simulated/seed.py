"""The project's own seeded synthetic department data, so the demo runs with nothing downloaded.

It writes the five files of the bench layout (grid_residents.csv, health_records.csv,
civil_affairs.csv, grid_events.csv, resident_events.csv) for a fictional district of Quanzhou,
with the slips hand entry makes: stray spaces, full-width digits, traditional characters, homophones,
missing or mistyped ID numbers, 15-digit old IDs, several date and phone formats, one address written
several ways, households sharing an address and phone, and incidents reported more than once. It
also writes truth_residents.csv and truth_events.csv for the project's own tests.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import cn2an
import opencc
from stdnum.cn import ric

GRID_COLUMNS = [
    "记录编号", "姓名", "公民身份号码", "性别", "出生日期",
    "联系电话", "现住址", "所属网格", "人户状态",
]
HEALTH_COLUMNS = [
    "record_id", "name", "id_card", "sex",
    "birthday", "mobile", "address", "chronic", "family_doctor",
]
CIVIL_COLUMNS = ["编号", "姓名", "身份证号", "性别", "出生年月", "电话", "户籍地址", "救助类型", "月发放金额"]
GRID_EVENT_COLUMNS = ["事件编号", "事件类型", "发生时间", "事发地点", "所属网格", "事件描述", "处置状态"]
RESIDENT_EVENT_COLUMNS = [
    "event_id", "category", "reported_at",
    "location", "description", "contact",
]

CITY = "泉州市"
# district -> (region code, street -> communities)
AREAS: dict[str, tuple[str, dict[str, list[str]]]] = {
    "鲤城区": ("350502", {"开元街道": ["新华社区", "象峰社区"], "海滨街道": ["西隅社区", "新门社区"]}),
    "丰泽区": ("350503", {"东海街道": ["东梅社区", "云山社区"], "清源街道": ["清源社区", "北峰社区"]}),
    "洛江区": ("350504", {"万安街道": ["塘西社区", "双阳社区"]}),
    "晋江市": ("350582", {"青阳街道": ["阳光社区", "崇德社区"], "梅岭街道": ["桂山社区", "岭山社区"]}),
}
ROADS = ["温陵路", "中山路", "泉秀路", "刺桐路", "丰泽街", "田安路", "宝洲路", "津淮街", "金山路", "湖心街"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程苏魏吕丁"
GIVEN_CHARS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红文斌辉鹏飞海燕婷雪琳宇浩晨思怡欣佳"
HOMOPHONES = dict(zip("伟丽明华军静杰琳玉", "玮莉铭桦君婧洁林钰", strict=True))
CHRONIC = ["高血压", "糖尿病", "冠心病", "慢阻肺", "脑卒中"]
DOCTORS = ["陈医生", "林医生", "黄医生", "吴医生", "蔡医生"]
AID = {"低保": (500, 900), "特困供养": (900, 1300), "高龄津贴": (100, 300), "残疾人两项补贴": (100, 200)}
RESIDENCE = ["人户一致", "人户一致", "人户一致", "人在户不在", "户在人不在"]
# professional category -> residents' own words for it
CATEGORIES = {
    "违章搭建": ["私搭乱建", "乱搭建", "违建"],
    "占道经营": ["路边摆摊", "占道摆摊", "小贩占道"],
    "噪声扰民": ["太吵了", "噪音扰民", "半夜施工很吵"],
    "垃圾堆放": ["垃圾没人清", "垃圾乱堆", "垃圾桶满了"],
    "井盖缺失": ["井盖丢了", "井盖坏了"],
    "路灯损坏": ["路灯不亮", "路灯坏了"],
    "消防通道堵塞": ["消防通道被堵", "车堵了消防通道"],
    "私拉电线": ["飞线充电", "私拉电线充电"],
}
STATUSES = ["上报", "受理", "分派", "处置中", "办结", "评价"]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass
class Home:
    district: str
    street: str
    community: str
    road: str
    door_no: int
    building: int
    unit: int
    room: int
    phone: str
    grid_no: int


@dataclass
class Person:
    person_id: str
    name: str
    id_no: str
    gender: str  # "1" male, "2" female
    birth: date
    phone: str
    home: Home


class Slips:
    """The mistakes a person makes typing a value, each at its own rate."""

    def __init__(self, rng: random.Random, noise: float) -> None:
        self.rng = rng
        self.noise = noise
        self.s2t = opencc.OpenCC("s2t")

    def chance(self, rate: float) -> bool:
        return self.rng.random() < rate * self.noise

    def name(self, name: str) -> str:
        if self.chance(0.002):
            return ""  # left blank: the hub must quarantine the row, not guess
        if self.chance(0.03):
            name = name[0] + " " + name[1:]
        if self.chance(0.02):
            name = self.s2t.convert(name)
        if self.chance(0.02):
            name = "".join(HOMOPHONES.get(char, char) for char in name)
        if self.chance(0.01):
            name = f" {name} "
        return name

    def id_no(self, id_no: str) -> str:
        if self.chance(0.05):
            return ""
        if self.chance(0.02) and id_no[6:8] == "19":
            return id_no[:6] + id_no[8:17]
        if self.chance(0.01):
            position = self.rng.randrange(6, 17)
            id_no = id_no[:position] + str((int(id_no[position]) + 1) % 10) + id_no[position + 1 :]
        if self.chance(0.5):
            id_no = id_no.replace("X", "x")
        if self.chance(0.02):
            id_no = id_no.translate(FULL_WIDTH)
        if self.chance(0.01):
            id_no = f"{id_no[:6]} {id_no[6:14]} {id_no[14:]}"
        return id_no

    def phone(self, phone: str) -> str:
        if not phone or self.chance(0.1):
            return ""
        if phone.startswith("0"):
            return phone
        if self.chance(0.03):
            return phone.translate(FULL_WIDTH)
        if self.chance(0.03):
            return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
        if self.chance(0.02):
            return "+86 " + phone
        return phone

    def address(self, home: Home) -> str:
        """One of the many ways the same flat gets written."""
        parts = []
        if self.rng.random() < 0.6:
            parts.append(CITY)
        if self.rng.random() < 0.85:
            parts.append(home.district)
        if self.rng.random() < 0.5:
            parts.append(home.street + home.community)
        parts.append(f"{home.road}{home.door_no}号")
        parts.append(str(home.building) + self.rng.choice(["栋", "栋", "幢", "号楼"]))
        unit = cn2an.an2cn(home.unit) if self.chance(0.3) else str(home.unit)
        parts.append(f"{unit}单元")
        parts.append(str(home.room) + ("室" if self.rng.random() < 0.6 else ""))
        text = "".join(parts)
        return text.translate(FULL_WIDTH) if self.chance(0.01) else text


def make_id(region: str, birth: date, sequence: int, gender: str) -> str:
    """A valid GB 11643 number: region, birth date, sequence with gender parity, check digit."""
    order = sequence * 2 + (1 if gender == "1" else 0)
    first17 = f"{region}{birth:%Y%m%d}{order % 1000:03d}"
    return first17 + ric.calc_check_digit(first17 + "?")  # it ignores the last character


def mobile(rng: random.Random) -> str:
    return rng.choice(["139", "138", "158", "186", "135", "177", "151"]) + f"{rng.randrange(10**8):08d}"


def make_people(rng: random.Random, people: int) -> list[Person]:
    persons: list[Person] = []
    while len(persons) < people:
        district = rng.choice(list(AREAS))
        region, streets = AREAS[district]
        street = rng.choice(list(streets))
        home = Home(
            district=district,
            street=street,
            community=rng.choice(streets[street]),
            road=rng.choice(ROADS),
            door_no=rng.randrange(1, 400),
            building=rng.randrange(1, 30),
            unit=rng.randrange(1, 7),
            room=rng.randrange(1, 33) * 100 + rng.randrange(1, 5),
            phone=mobile(rng) if rng.random() < 0.85 else f"0595-{rng.randrange(2200_0000, 2899_9999)}",
            grid_no=rng.randrange(1, 40),
        )
        surname = rng.choice(SURNAMES)
        adult_birth = date(1935, 1, 1) + timedelta(days=rng.randrange(365 * 65))
        size = rng.choice([1, 1, 2, 2, 3, 3, 4])
        twins = size >= 3 and rng.random() < 0.1
        for member in range(size):
            if member == 0:
                birth, member_surname = adult_birth, surname
            elif member == 1:
                birth = adult_birth + timedelta(days=rng.randrange(-1500, 1500))
                member_surname = rng.choice(SURNAMES)
            elif twins and member == 3:
                birth, member_surname = persons[-1].birth, surname
            else:
                birth = adult_birth + timedelta(days=rng.randrange(365 * 22, 365 * 38))
                member_surname = surname
            birth = min(birth, date(2024, 12, 31))
            gender = rng.choice("12")
            given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice([1, 2, 2])))
            persons.append(
                Person(
                    person_id=f"P{len(persons):07d}",
                    name=member_surname + given,
                    id_no=make_id(region, birth, rng.randrange(500), gender),
                    gender=gender,
                    birth=birth,
                    phone=home.phone if member == 0 or rng.random() < 0.4 else mobile(rng),
                    home=home,
                )
            )
    return persons[:people]


def write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def copies(rng: random.Random, share: float, duplicate_rate: float) -> int:
    """How many records one department holds for a person: mostly 0 or 1, sometimes 2."""
    if rng.random() >= share:
        return 0
    return 2 if rng.random() < duplicate_rate else 1


Table = list[dict[str, str]]


def resident_files(rng: random.Random, slips: Slips, persons: list[Person]) -> dict[str, Table]:
    grid: list[dict[str, str]] = []
    health: list[dict[str, str]] = []
    civil: list[dict[str, str]] = []
    truth: list[dict[str, str]] = []
    for person in persons:
        home, sex = person.home, "男" if person.gender == "1" else "女"
        for _ in range(copies(rng, 0.95, 0.04)):
            record_id = f"G{len(grid) + 1:08d}"
            birth = f"{person.birth:%Y-%m-%d}" if rng.random() < 0.8 else f"{person.birth:%Y/%m/%d}"
            if slips.chance(0.002):
                birth = f"{person.birth.year}-02-30"  # a date that does not exist
            grid.append(
                {
                    "记录编号": record_id,
                    "姓名": slips.name(person.name),
                    "公民身份号码": slips.id_no(person.id_no),
                    "性别": sex,
                    "出生日期": birth,
                    "联系电话": slips.phone(person.phone),
                    "现住址": slips.address(home),
                    "所属网格": f"{home.community}{home.grid_no}网格",
                    "人户状态": rng.choice(RESIDENCE),
                }
            )
            truth.append({"source": "grid", "record_id": record_id, "person_id": person.person_id})
        age = 2026 - person.birth.year
        for _ in range(copies(rng, 0.75 if age >= 60 else 0.6, 0.02)):
            record_id = f"H{len(health) + 1:08d}"
            chronic = rng.sample(CHRONIC, k=rng.choice([0, 1, 1, 2])) if age >= 45 else []
            health.append(
                {
                    "record_id": record_id,
                    "name": slips.name(person.name),
                    "id_card": slips.id_no(person.id_no),
                    "sex": "9" if slips.chance(0.02) else person.gender,
                    "birthday": f"{person.birth:%Y%m%d}",
                    "mobile": slips.phone(person.phone),
                    "address": slips.address(home),
                    "chronic": ";".join(chronic),
                    "family_doctor": rng.choice(DOCTORS) if rng.random() < 0.4 else "",
                }
            )
            truth.append({"source": "health", "record_id": record_id, "person_id": person.person_id})
        for _ in range(copies(rng, 0.35 if age >= 70 else 0.12, 0.02)):
            record_id = f"C{len(civil) + 1:08d}"
            aid = "高龄津贴" if age >= 80 and rng.random() < 0.6 else rng.choice(list(AID))
            low, high = AID[aid]
            civil.append(
                {
                    "编号": record_id,
                    "姓名": slips.name(person.name),
                    "身份证号": slips.id_no(person.id_no),
                    "性别": sex,
                    "出生年月": f"{person.birth.year}年{person.birth.month}月{person.birth.day}日",
                    "电话": slips.phone(person.phone),
                    "户籍地址": slips.address(home),
                    "救助类型": aid,
                    "月发放金额": str(rng.randrange(low, high, 10)),
                }
            )
            truth.append({"source": "civil", "record_id": record_id, "person_id": person.person_id})
    return {
        "grid_residents": grid,
        "health_records": health,
        "civil_affairs": civil,
        "truth_residents": truth,
    }


def event_files(
    rng: random.Random, slips: Slips, persons: list[Person], incidents: int
) -> dict[str, list[dict[str, str]]]:
    grid_events: list[dict[str, str]] = []
    resident_events: list[dict[str, str]] = []
    truth: list[dict[str, str]] = []
    start = datetime(2026, 3, 1)
    for number in range(incidents):
        incident_id = f"I{number:07d}"
        category = rng.choice(list(CATEGORIES))
        home = rng.choice(persons).home
        happened = start + timedelta(minutes=rng.randrange(60 * 24 * 60))
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            event_id = f"GE{len(grid_events) + 1:07d}"
            at = happened + timedelta(minutes=rng.randrange(0, 240))
            grid_events.append(
                {
                    "事件编号": event_id,
                    "事件类型": category,
                    "发生时间": f"{at:%Y-%m-%d %H:%M}",
                    "事发地点": slips.address(home),
                    "所属网格": f"{home.community}{home.grid_no}网格",
                    "事件描述": f"{category}，{home.road}{home.door_no}号附近，请处理",
                    "处置状态": rng.choice(STATUSES),
                }
            )
            truth.append({"source": "grid", "event_id": event_id, "incident_id": incident_id})
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            event_id = f"RE{len(resident_events) + 1:07d}"
            at = happened + timedelta(minutes=rng.randrange(0, 600), seconds=rng.randrange(60))
            words = rng.choice(CATEGORIES[category])
            resident_events.append(
                {
                    "event_id": event_id,
                    "category": words,
                    "reported_at": f"{at:%Y/%m/%d %H:%M:%S}",
                    "location": slips.address(home),
                    "description": f"{words}，在{home.road}这边",
                    "contact": slips.phone(mobile(rng)),
                }
            )
            truth.append({"source": "resident", "event_id": event_id, "incident_id": incident_id})
    return {"grid_events": grid_events, "resident_events": resident_events, "truth_events": truth}


COLUMNS = {
    "grid_residents": GRID_COLUMNS,
    "health_records": HEALTH_COLUMNS,
    "civil_affairs": CIVIL_COLUMNS,
    "grid_events": GRID_EVENT_COLUMNS,
    "resident_events": RESIDENT_EVENT_COLUMNS,
    "truth_residents": ["source", "record_id", "person_id"],
    "truth_events": ["source", "event_id", "incident_id"],
}


def write_synthetic(
    out_dir: Path, people: int = 3000, seed: int = 1, *, incidents: int | None = None, noise: float = 1.0
) -> dict[str, int]:
    """Write the bench-layout files (and truth files) for ``people`` residents; returns rows per file.

    The same ``seed`` always gives the same files.
    """
    rng = random.Random(seed)
    slips = Slips(rng, noise)
    persons = make_people(rng, people)
    tables = resident_files(rng, slips, persons)
    tables |= event_files(rng, slips, persons, people // 10 if incidents is None else incidents)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        write_csv(out_dir / f"{name}.csv", COLUMNS[name], rows)
    return {name: len(rows) for name, rows in tables.items()}
