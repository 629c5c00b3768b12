"""What anonymising a family at the end of its retention clears in the services' records (run by
``casemgmt.security.services.family_anonymise``): diagnoses and check-up findings. Claims, amounts
and dates stay, for the statistics."""
from .models import HealthCheckup, InsuranceClaim


def family_health_data_erase(family):
    """Returns 0: no person's name is kept here."""
    InsuranceClaim.objects.filter(member__family=family).update(diagnosis="")
    HealthCheckup.objects.filter(member__family=family).update(findings="")
    return 0
