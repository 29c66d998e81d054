"""The demo platform: read from simulators/data/demo_platform.json (shared with the simulated fleet)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources as package_files
from typing import Any

from sqlmodel import Session, select

from backend.domain.access import Role
from backend.domain.alarm_rules import Comparison, Severity
from backend.models.alarm_rule import AlarmRuleCreate
from backend.models.billing import Voucher
from backend.models.organization import OrganizationCreate, OrgKind
from backend.models.platform import Platform, PlatformCreate
from backend.models.qualification import Qualification
from backend.models.rate import RateCardCreate, RateUnit, UserClass
from backend.models.resource import MaintenanceWindow, Resource, ResourceCreate
from backend.models.types import utcnow
from backend.models.user import UserCreate
from backend.services.accounts.users import create_organization, create_user
from backend.services.catalog.platforms import create_platform
from backend.services.catalog.resources import create_resource
from backend.services.money.rates import create_rate
from backend.services.telemetry.alarm_rules import create_rule


def demo_data() -> dict[str, Any]:
    text = package_files.files("simulators.data").joinpath("demo_platform.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def fleet_codes(data: dict[str, Any], devices: int) -> list[tuple[str, str]]:
    """(code, device_type) of the first `devices` fleet devices, as the simulators number them."""
    typed = [r for r in data["resources"] if r.get("device_type")]
    out = [(r["code"], r["device_type"]) for r in typed[:devices]]
    for i in range(len(typed), devices):
        out.append((f"SIM-{i:04d}", typed[i % len(typed)]["device_type"]))
    return out


def _id(row: Any) -> int:
    assert row.id is not None, "flush before using the id"
    return int(row.id)


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: str
    note: str


SMES = [
    (
        "qilu-enzyme",
        "齐鲁酶工程科技有限公司",
        "Qilu Enzyme Engineering Co.",
        "91370102MA3D7K8R2T",
        "李明",
        "Li Ming",
    ),
    (
        "quancheng-pharma",
        "泉城新药研发有限公司",
        "Quancheng New Drug R&D Co.",
        "91370112MA3E9L4T57",
        "王芳",
        "Wang Fang",
    ),
    (
        "daming-materials",
        "大明湖新材料有限公司",
        "Daming Lake New Materials Co.",
        "91370105MA3F2N6P8F",
        "张伟",
        "Zhang Wei",
    ),
]

HOURLY = {  # CNY per hour: internal, external SME, key project
    "fermenter": ("80", "120", "90"),
    "spray_dryer": ("200", "300", "220"),
    "freeze_dryer": ("150", "220", "160"),
    "hplc": ("60", "100", "70"),
    "furnace": ("50", "90", "60"),
}


def seed_demo(session: Session, fleet_devices: int = 0) -> list[DemoLogin]:
    """Create the demo platform once; a second run changes nothing and returns the same logins."""
    data = demo_data()
    logins = [
        DemoLogin("admin@pilotshare.demo", "demo-admin-2026", "admin", "administrator"),
        DemoLogin("operator@jinan-bio.demo", "demo-operator-2026", "operator", "operator of jinan-bio"),
        DemoLogin("auditor@sdsti.demo", "demo-auditor-2026", "auditor", "provincial evaluation authority"),
    ] + [
        DemoLogin(f"{code.split('-')[0]}@{code}.demo", "demo-sme-2026", "sme", f"SME {name_en}")
        for code, _, name_en, *_ in SMES
    ]
    if session.exec(select(Platform).where(Platform.code == data["platform"]["code"])).first():
        _register_fleet(session, data, fleet_devices)
        return logins

    p = data["platform"]
    owner = create_organization(
        session,
        None,
        OrganizationCreate(
            code=p["owner"]["code"],
            name=p["owner"]["name"],
            name_en=p["owner"]["name_en"],
            kind=OrgKind.platform_owner,
            credit_code=p["owner"]["credit_code"],
        ),
    )
    authority = create_organization(
        session,
        None,
        OrganizationCreate(
            code="sdsti",
            name="山东省科学技术厅",
            name_en="Shandong Provincial Department of Science and Technology",
            kind=OrgKind.authority,
            credit_code="113700000042444679",
        ),
    )
    platform = create_platform(
        session,
        None,
        PlatformCreate(
            code=p["code"],
            name=p["name"],
            name_en=p["name_en"],
            city=p["city"],
            city_en=p["city_en"],
            industry=p["industry"],
            industry_en=p["industry_en"],
            zone="济南高新技术产业开发区",
            timezone=p["timezone"],
            owner_org_id=owner.id,
            opening_hours=data["default_opening_hours"],
            description="中试熟化、放大与检测服务 / pilot-scale fermentation, drying, analysis",
        ),
    )
    assert platform.id is not None
    resources: dict[str, Resource] = {}
    for spec in data["resources"]:
        fields = {k: v for k, v in spec.items() if k in ResourceCreate.model_fields}
        resources[spec["code"]] = create_resource(
            session, None, ResourceCreate(platform_id=platform.id, **fields)
        )
    _seed_rates(session, data, resources)
    _seed_alarm_rules(session, platform.id)

    create_user(
        session,
        None,
        UserCreate(
            email=logins[0].email, password=logins[0].password, full_name="平台管理员 Admin", role=Role.admin
        ),
    )
    create_user(
        session,
        None,
        UserCreate(
            email=logins[1].email,
            password=logins[1].password,
            full_name="赵工 Zhao (operator)",
            role=Role.operator,
            platform_id=platform.id,
            organization_id=owner.id,
        ),
    )
    create_user(
        session,
        None,
        UserCreate(
            email=logins[2].email,
            password=logins[2].password,
            full_name="孙审 Sun (auditor)",
            role=Role.auditor,
            organization_id=authority.id,
        ),
    )
    for (code, name, name_en, credit, person, person_en), login in zip(SMES, logins[3:], strict=True):
        org = create_organization(
            session,
            None,
            OrganizationCreate(
                code=code,
                name=name,
                name_en=name_en,
                kind=OrgKind.sme,
                credit_code=credit,
                actual_controller=f"{person}",
            ),
        )
        user = create_user(
            session,
            None,
            UserCreate(
                email=login.email,
                password=login.password,
                full_name=f"{person} {person_en}",
                role=Role.sme,
                organization_id=org.id,
            ),
        )
        for rcode in ("F5-1", "F50-1", "HPLC-1"):
            session.add(
                Qualification(user_id=_id(user), resource_id=_id(resources[rcode]), note="demo induction")
            )
        # Innovation vouchers (docs/billing.md): the province pays 60 % up to its annual cap.
        session.add(
            Voucher(
                organization_id=_id(org),
                number=f"SD-{date.today().year}-{credit[-6:]}",
                issuer="山东省科学技术厅",
                year=date.today().year,
                percent=Decimal("60"),
                annual_cap=Decimal("500000"),
                note="demo voucher",
            )
        )
    start = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(days=7)
    session.add(
        MaintenanceWindow(
            resource_id=_id(resources["F50-2"]),
            start=start,
            end=start + timedelta(hours=8),
            reason="年度压力容器检验 / annual pressure-vessel inspection",
        )
    )
    _register_fleet(session, data, fleet_devices)
    session.flush()
    return logins


def _seed_rates(session: Session, data: dict[str, Any], resources: dict[str, Resource]) -> None:
    start = date(date.today().year, 1, 1)
    for spec in data["resources"]:
        prices = HOURLY.get(spec.get("device_type") or "")
        if spec["kind"] == "line":
            prices = ("600", "900", "700")
        elif spec["kind"] == "venue":
            prices = ("1200", "1800", "1400")
        if prices is None:
            continue
        unit = RateUnit.day if spec["kind"] == "venue" else RateUnit.hour
        for user_class, price in zip(UserClass, prices, strict=True):
            create_rate(
                session,
                None,
                resources[spec["code"]].id,  # type: ignore[arg-type]
                RateCardCreate(user_class=user_class, unit=unit, price=Decimal(price), valid_from=start),
            )
        if spec.get("device_type") == "hplc":
            create_rate(
                session,
                None,
                resources[spec["code"]].id,  # type: ignore[arg-type]
                RateCardCreate(
                    user_class=UserClass.external_sme,
                    unit=RateUnit.sample,
                    price=Decimal("150"),
                    valid_from=start,
                    note="含色谱柱与试剂 / column and reagents included",
                ),
            )


#: Threshold rules on the simulated device types; the fleet's excursions cross them now and then.
ALARM_RULES = [
    AlarmRuleCreate(
        device_type="furnace",
        code="furnace-overheat",
        name="炉管超温 / furnace overheating: tube above 1000 °C (demo programmes soak at 900 °C at most)",
        signal="temperature_c",
        comparison=Comparison.gt,
        limit=1000,
        clear_limit=950,
        duration_seconds=30,
        severity=Severity.critical,
    ),
    AlarmRuleCreate(
        device_type="fermenter",
        code="fermenter-ph-low",
        name="发酵液 pH 偏低 / fermenter pH drift: below 6.5",
        signal="ph",
        comparison=Comparison.lt,
        limit=6.5,
        clear_limit=6.6,
        duration_seconds=60,
        severity=Severity.warning,
    ),
    AlarmRuleCreate(
        device_type="fermenter",
        code="fermenter-ph-high",
        name="发酵液 pH 偏高 / fermenter pH drift: above 7.5",
        signal="ph",
        comparison=Comparison.gt,
        limit=7.5,
        clear_limit=7.4,
        duration_seconds=60,
        severity=Severity.warning,
    ),
]


def _seed_alarm_rules(session: Session, platform_id: int) -> None:
    for rule in ALARM_RULES:
        create_rule(session, None, platform_id, rule)


def _register_fleet(session: Session, data: dict[str, Any], devices: int) -> None:
    """Register generated simulator devices (SIM-0001 ...) so the system knows every simulated instrument."""
    platform = session.exec(select(Platform).where(Platform.code == data["platform"]["code"])).one()
    assert platform.id is not None
    known = set(session.exec(select(Resource.code).where(Resource.platform_id == platform.id)))
    names = {r["device_type"]: r for r in data["resources"] if r.get("device_type")}
    for code, device_type in fleet_codes(data, devices):
        if code in known:
            continue
        template = names[device_type]
        create_resource(
            session,
            None,
            ResourceCreate(
                platform_id=platform.id,
                code=code,
                kind=template["kind"],
                device_type=device_type,
                name=f"模拟{template['name']} {code}",
                name_en=f"Simulated {template['name_en']} {code}",
                capabilities=template.get("capabilities", []),
                attributes=template.get("attributes", {}),
                unattended=template.get("unattended", False),
            ),
        )
