"""The data migration that turns consolation disbursements into visits and gives every bought policy
its premium as a payment, run on rows of a real database."""
import datetime
import importlib
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection

from services.models import ConsolationVisit, Disbursement, Fund, InsurancePolicy, PremiumPayment
from volunteers.models import Volunteer

DATA = importlib.import_module("services.migrations.0005_consolation_visits_premiums_paid")

pytestmark = pytest.mark.django_db


def test_consolation_payments_become_visits_and_policies_their_payment(regions, families, people):
    own, day = families["own"], datetime.date(2025, 1, 20)
    mother = own.members.get(relation="mother")
    fund = Fund.objects.create(name="慰问金", programme="consolation", year=2025, budget=10000, region=regions["zhangpu"])
    volunteer = Volunteer.objects.create(name="志愿者", region=regions["zhangpu"])
    # As a database from before holds them: kinds the model no longer offers.
    Disbursement.objects.create(fund=fund, kind="consolation_cash", amount=Decimal("800"), family=own, paid_on=day,
                                description="春节慰问", recorded_by=people["alice"])
    Disbursement.objects.create(fund=fund, kind="consolation_goods", amount=Decimal("200"), family=own, paid_on=day,
                                goods="米油")
    Disbursement.objects.create(fund=fund, kind="consolation_goods", amount=Decimal("150"), member=mother,
                                paid_on=datetime.date(2025, 9, 15), goods="月饼")
    outsider = Disbursement.objects.create(fund=fund, kind="consolation_cash", amount=Decimal("300"), volunteer=volunteer,
                                           paid_on=day)
    grant = Disbursement.objects.create(fund=fund, kind="grant", amount=Decimal("5000"), family=own, paid_on=day)
    bought = InsurancePolicy.objects.create(insurer="人保", product_kind="accident", region=regions["zhangpu"],
                                            starts_on=datetime.date(2025, 7, 1), ends_on=datetime.date(2026, 6, 30),
                                            premium=Decimal("6800"), status="expired")
    InsurancePolicy.objects.create(insurer="人保", product_kind="accident", region=regions["zhangpu"],
                                   starts_on=datetime.date(2026, 7, 1), ends_on=datetime.date(2027, 6, 30),
                                   premium=Decimal("7000"), status="draft")

    DATA.forwards(django_apps, SimpleNamespace(connection=connection))

    visits = list(ConsolationVisit.objects.order_by("visited_on"))
    assert [(v.family_id, v.member_id, v.visited_on, v.cash, v.goods_value, v.goods) for v in visits] == [
        (own.pk, None, day, Decimal("800.00"), Decimal("200.00"), "米油"),  # one visit on one day
        (own.pk, mother.pk, datetime.date(2025, 9, 15), Decimal("0.00"), Decimal("150.00"), "月饼"),
    ]
    assert visits[0].fund == fund and visits[0].recorded_by == people["alice"] and visits[0].notes == "春节慰问"
    outsider.refresh_from_db()
    assert outsider.kind == "other" and outsider.description.startswith("慰问")
    assert set(Disbursement.objects.values_list("pk", flat=True)) == {outsider.pk, grant.pk}
    payment = PremiumPayment.objects.get()
    assert (payment.policy, payment.paid_on, payment.amount, payment.member) == (bought, bought.starts_on,
                                                                              Decimal("6800.00"), None)

    DATA.backwards(django_apps, SimpleNamespace(connection=connection))
    back = sorted(Disbursement.objects.filter(kind__startswith="consolation").values_list("kind", "amount"))
    assert back == [("consolation_cash", Decimal("800.00")), ("consolation_goods", Decimal("150.00")),
                    ("consolation_goods", Decimal("200.00"))]
