"""A year of records (2025) in both counties: alice's and bob's families in 漳浦县, carol's in 云霄县,
plus records just outside the year, cancelled or refused, so every figure has something to include
and something to leave out; and records held at the city itself (市本级)."""
import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from families.models import CheckIn, Family
from services.models import (
    Activity,
    ActivityAttendance,
    ConsolationVisit,
    Disbursement,
    Fund,
    HealthCheckup,
    InsuranceClaim,
    InsurancePolicy,
    InsuredPerson,
    PremiumPayment,
    ServiceSite,
)
from tests.conftest import PASSWORD
from volunteers.models import Enrollment, TrainingCourse, TrainingSession, Volunteer

YEAR = 2025


def at(month, day, hour=10):
    return timezone.make_aware(datetime.datetime(YEAR, month, day, hour))


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()
    yield
    cache.clear()


def _county_records(regions, people, family, village, county, tag, checkin_by):
    """The same pattern of records in one county; returns what it made."""
    mother = family.members.get(relation="mother")
    father = family.members.get(relation="father")
    made = {}
    made["sites"] = [
        ServiceSite.objects.create(kind="psych_aid_centre", name=f"心理慰藉中心{tag}", region=county,
                                   opened_on=datetime.date(2020, 1, 1)),
        ServiceSite.objects.create(kind="warm_heart_home", name=f"暖心家园{tag}", region=village),
        # Closed before the year: not counted.
        ServiceSite.objects.create(kind="warm_heart_home", name=f"旧家园{tag}", region=village,
                                   opened_on=datetime.date(2018, 1, 1), closed_on=datetime.date(2024, 6, 30)),
    ]
    fund = Fund.objects.create(name=f"慰问金{tag}", programme="consolation", year=YEAR, budget=100000, region=county)
    support_fund = Fund.objects.create(name=f"志愿者经费{tag}", programme="volunteer_support", year=YEAR, budget=50000,
                                       region=county)
    volunteer = Volunteer.objects.create(name=f"志愿者{tag}", region=county)
    made["consolation"] = [
        ConsolationVisit.objects.create(family=family, visited_on=datetime.date(YEAR, 1, 20), cash=Decimal("1000.00"),
                                        visiting_party="县计生协", occasion="春节", fund=fund),
        ConsolationVisit.objects.create(family=family, member=mother, visited_on=datetime.date(YEAR, 9, 15),
                                        visitor=checkin_by, goods="米油", goods_value=Decimal("250.50"), occasion="中秋"),
        # A visit with nothing given is a visit all the same.
        ConsolationVisit.objects.create(family=family, visited_on=datetime.date(YEAR, 4, 3), visitor=checkin_by,
                                        occasion="清明"),
    ]
    # Outside the year: not counted.
    ConsolationVisit.objects.create(family=family, visited_on=datetime.date(YEAR - 1, 12, 31), cash=Decimal("999"),
                                    visiting_party="县计生协")
    made["grants"] = [
        Disbursement.objects.create(fund=fund, kind="grant", amount=Decimal("5000"), family=family,
                                    paid_on=datetime.date(YEAR, 3, 1)),
        # Held at the county: a Happiness Project mother outside the families.
        Disbursement.objects.create(fund=fund, kind="grant", amount=Decimal("50000"), recipient_name=f"王秀英{tag}",
                                    paid_on=datetime.date(YEAR, 6, 1), outcome_amount=Decimal("30000")),
    ]
    Disbursement.objects.create(fund=fund, kind="grant", amount=Decimal("1"), family=family,
                                paid_on=datetime.date(YEAR + 1, 1, 1))
    made["assistance_payments"] = [
        Disbursement.objects.create(fund=fund, kind="assistance_payment", amount=Decimal("2040.00"), family=family,
                                    paid_on=datetime.date(YEAR, month, 20), period=f"{YEAR}H{half}")
        for half, month in ((1, 1), (2, 7))
    ]
    Disbursement.objects.create(fund=fund, kind="assistance_payment", amount=Decimal("2040.00"), family=family,
                                paid_on=datetime.date(YEAR - 1, 7, 20), period=f"{YEAR - 1}H2")
    made["volunteer_support"] = [
        Disbursement.objects.create(fund=support_fund, kind="volunteer_support", amount=Decimal("300"), volunteer=volunteer,
                                    paid_on=datetime.date(YEAR, 5, 5)),
    ]
    made["free_checkups"] = [
        HealthCheckup.objects.create(member=mother, date=datetime.date(YEAR, 4, 1), provider="县医院"),
        HealthCheckup.objects.create(member=father, date=datetime.date(YEAR, 4, 1), provider="县医院"),
    ]
    HealthCheckup.objects.create(member=father, date=datetime.date(YEAR, 10, 1), provider="县医院", is_free=False, cost=200)
    policy = InsurancePolicy.objects.create(
        insurer="中国人寿", product_kind="critical_illness", region=county, starts_on=datetime.date(YEAR - 1, 7, 1),
        ends_on=datetime.date(YEAR, 6, 30), premium=Decimal("6800.00"), status="expired", policy_number=f"P{tag}1")
    renewal = InsurancePolicy.objects.create(
        insurer="中国人寿", product_kind="critical_illness", region=county, starts_on=datetime.date(YEAR, 7, 1),
        ends_on=datetime.date(YEAR + 1, 6, 30), premium=Decimal("7000.00"), status="active", policy_number=f"P{tag}2")
    InsurancePolicy.objects.create(  # a draft was never paid
        insurer="人保", product_kind="accident", region=county, starts_on=datetime.date(YEAR, 1, 1),
        ends_on=datetime.date(YEAR, 12, 31), premium=Decimal("100"), status="draft")
    cancelled = InsurancePolicy.objects.create(  # paid, then refunded
        insurer="人保", product_kind="accident", region=county, starts_on=datetime.date(YEAR, 2, 1),
        ends_on=datetime.date(YEAR + 1, 1, 31), premium=Decimal("500"), status="cancelled")
    for p in (policy, renewal):
        InsuredPerson.objects.create(policy=p, member=mother, premium=Decimal("100"))
    InsuredPerson.objects.create(policy=renewal, member=father, premium=Decimal("100"))
    made["policies"] = [policy, renewal]
    # The policy across two years is paid once, in 2024, the renewal in three parts: July (the
    # policy), October (the mother, at her roster premium) and January next year.
    PremiumPayment.objects.create(policy=policy, paid_on=datetime.date(YEAR - 1, 7, 1), amount=Decimal("6800.00"))
    PremiumPayment.objects.create(policy=cancelled, paid_on=datetime.date(YEAR, 2, 1), amount=Decimal("500.00"))
    made["insurance_premiums"] = [
        PremiumPayment.objects.create(policy=renewal, paid_on=datetime.date(YEAR, 7, 1), amount=Decimal("3500.00")),
        PremiumPayment.objects.create(policy=renewal, member=mother, paid_on=datetime.date(YEAR, 10, 15),
                                      amount=Decimal("100.00")),
    ]
    PremiumPayment.objects.create(policy=renewal, paid_on=datetime.date(YEAR + 1, 1, 10), amount=Decimal("3400.00"))
    made["claims_paid"] = [
        InsuranceClaim.objects.create(policy=renewal, member=mother, incident_date=datetime.date(YEAR, 7, 20),
                                      amount_claimed=Decimal("3000"), amount_settled=Decimal("2000.00"), status="settled",
                                      filed_on=datetime.date(YEAR, 7, 25), settled_on=datetime.date(YEAR, 8, 1)),
    ]
    InsuranceClaim.objects.create(policy=renewal, member=father, incident_date=datetime.date(YEAR, 8, 2),
                                  amount_claimed=Decimal("900"), status="rejected", filed_on=datetime.date(YEAR, 8, 3))
    InsuranceClaim.objects.create(policy=policy, member=mother, incident_date=datetime.date(YEAR - 1, 11, 2),
                                  amount_claimed=Decimal("800"), amount_settled=Decimal("800"), status="settled",
                                  filed_on=datetime.date(YEAR - 1, 11, 3), settled_on=datetime.date(YEAR - 1, 12, 20))
    birthday = Activity.objects.create(title=f"集体庆生{tag}", category="birthday", region=village, starts_at=at(3, 8),
                                       ends_at=at(3, 8, 12), status="completed")
    lecture = Activity.objects.create(title=f"健康讲座{tag}", category="lecture", region=county, starts_at=at(6, 1),
                                      ends_at=at(6, 1, 12), status="completed")
    Activity.objects.create(title=f"取消{tag}", category="gathering", region=county, starts_at=at(7, 1), ends_at=at(7, 1, 12),
                            status="cancelled")
    made["activities"] = [birthday, lecture]
    made["participants"] = [
        ActivityAttendance.objects.create(activity=birthday, member=mother),
        ActivityAttendance.objects.create(activity=birthday, member=father),
        ActivityAttendance.objects.create(activity=birthday, volunteer=volunteer),
        ActivityAttendance.objects.create(activity=lecture, member=mother),
    ]
    course = TrainingCourse.objects.create(title=f"陪伴技能{tag}", region=county)
    session = TrainingSession.objects.create(course=course, region=county, starts_at=at(4, 10), ends_at=at(4, 10, 16),
                                             venue="会议室", capacity=30, status="completed")
    other = Volunteer.objects.create(name=f"缺席者{tag}", region=county)
    Enrollment.objects.create(session=session, volunteer=volunteer, status="attended", attended_at=at(4, 10))
    Enrollment.objects.create(session=session, volunteer=other, status="no_show")
    youth = TrainingCourse.objects.create(title=f"青春健康主持人{tag}", region=county, programme="youth_health")
    youth_session = TrainingSession.objects.create(course=youth, region=village, starts_at=at(5, 20),
                                                   ends_at=at(5, 20, 17), venue="学校", capacity=40, status="completed")
    for person in (volunteer, other):
        Enrollment.objects.create(session=youth_session, volunteer=person, status="attended", attended_at=at(5, 20))
    called_off = TrainingSession.objects.create(course=youth, region=county, starts_at=at(9, 1), ends_at=at(9, 1, 17),
                                                venue="学校", capacity=40, status="cancelled")
    Enrollment.objects.create(session=called_off, volunteer=volunteer, status="cancelled")
    made["trainings"] = [session, youth_session]
    made["training_participants"] = list(Enrollment.objects.filter(session__in=made["trainings"], status="attended"))
    made["volunteers_trained"] = [volunteer, other]
    Family.objects.filter(pk=family.pk).update(status="active")
    CheckIn.objects.create(family=family, recorded_by=checkin_by, channel="phone", occurred_at=at(2, 1))
    CheckIn.objects.create(family=family, recorded_by=checkin_by, channel="home_visit", occurred_at=at(2, 20))
    made["family"] = family
    return made


@pytest.fixture
def report_data(regions, people, families):
    zhangpu = _county_records(regions, people, families["own"], regions["village"], regions["zhangpu"], "ZP", people["alice"])
    yunxiao = _county_records(regions, people, families["outside"], regions["yx_village"], regions["yunxiao"], "YX",
                              people["carol"])
    # bob's family: active, never contacted in the year, and red risk.
    Family.objects.filter(pk=families["colleague"].pk).update(status="active", risk_level="red")
    CheckIn.objects.create(family=families["colleague"], recorded_by=people["bob"], channel="phone",
                           occurred_at=timezone.make_aware(datetime.datetime(YEAR - 1, 12, 1, 10)))
    # Held at the city itself (市本级): a centre and support paid to a volunteer registered there.
    city = regions["zhangzhou"]
    city_fund = Fund.objects.create(name="市志愿者经费", programme="volunteer_support", year=YEAR, budget=80000, region=city)
    city_volunteer = Volunteer.objects.create(name="市志愿者", region=city)
    city_records = {
        "sites": [ServiceSite.objects.create(kind="psych_aid_centre", name="市心理援助中心", region=city)],
        "volunteer_support": [Disbursement.objects.create(fund=city_fund, kind="volunteer_support", amount=Decimal("1200"),
                                                          volunteer=city_volunteer, paid_on=datetime.date(YEAR, 11, 11))],
    }
    return {"zhangpu": zhangpu, "yunxiao": yunxiao, "city": city_records}


@pytest.fixture
def login(client, people):
    def sign_in(username):
        assert client.login(username=username, password=PASSWORD)
        return client
    return sign_in
