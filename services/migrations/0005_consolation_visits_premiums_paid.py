"""Existing records in the new shapes.

Consolation paid to a family or one of its members becomes a consolation visit on the day it was
paid (cash as cash, goods as goods with their value; payments to one person on one day are one
visit). Consolation paid to someone outside the families (a volunteer, a named person) is no visit:
it stays a disbursement of kind "other". Every policy that was bought gets one payment of its
premium on its first day, which is when the figures counted it before."""
from collections import defaultdict
from decimal import Decimal

from django.db import migrations

CASH, GOODS = "consolation_cash", "consolation_goods"


def forwards(apps, schema_editor):
    Disbursement = apps.get_model("services", "Disbursement")
    ConsolationVisit = apps.get_model("services", "ConsolationVisit")
    InsurancePolicy = apps.get_model("services", "InsurancePolicy")
    PremiumPayment = apps.get_model("services", "PremiumPayment")

    visits = defaultdict(list)
    for paid in Disbursement.objects.filter(kind__in=(CASH, GOODS)).select_related("member").order_by("pk"):
        family_id = paid.family_id or (paid.member.family_id if paid.member_id else None)
        if family_id is None:
            paid.kind = "other"
            paid.description = f"慰问 {paid.description}".strip()[:300]
            paid.save(update_fields=["kind", "description"])
        else:
            visits[(family_id, paid.member_id, paid.paid_on)].append(paid)
    for (family_id, member_id, day), payments in visits.items():
        cash = sum((p.amount for p in payments if p.kind == CASH), Decimal("0"))
        goods = [p for p in payments if p.kind == GOODS]
        goods_value = sum((p.amount for p in goods), Decimal("0"))
        described = "、".join(p.goods or p.description for p in goods if p.goods or p.description)
        ConsolationVisit.objects.create(
            family_id=family_id, member_id=member_id, visited_on=day, cash=cash, goods_value=goods_value,
            goods=(described or ("慰问品" if goods_value else ""))[:200], fund_id=payments[0].fund_id,
            recorded_by_id=payments[0].recorded_by_id,
            notes="; ".join(p.description for p in payments if p.description and p.kind == CASH)[:300],
        )
        Disbursement.objects.filter(pk__in=[p.pk for p in payments]).delete()

    PremiumPayment.objects.bulk_create(
        PremiumPayment(policy_id=policy.pk, paid_on=policy.starts_on, amount=policy.premium)
        for policy in InsurancePolicy.objects.exclude(status="draft").filter(premium__gt=0)
    )


def backwards(apps, schema_editor):
    """Visits paid from a fund go back to consolation disbursements (the others had no fund to name)."""
    Disbursement = apps.get_model("services", "Disbursement")
    ConsolationVisit = apps.get_model("services", "ConsolationVisit")
    for visit in ConsolationVisit.objects.filter(fund__isnull=False):
        for kind, amount in ((CASH, visit.cash), (GOODS, visit.goods_value)):
            if amount:
                Disbursement.objects.create(
                    fund_id=visit.fund_id, kind=kind, amount=amount, family_id=visit.family_id, member_id=visit.member_id,
                    paid_on=visit.visited_on, goods=visit.goods if kind == GOODS else "", description=visit.notes,
                    recorded_by_id=visit.recorded_by_id)


class Migration(migrations.Migration):
    dependencies = [("services", "0004_consolation_visits_premium_payments")]

    operations = [migrations.RunPython(forwards, backwards)]
