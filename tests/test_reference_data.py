"""The regions and départements of the data migration survive a transactional test's flush, so
that the next test (on the same pytest-xdist worker) finds them."""

from django.core.management import call_command

from ami.models import Department, Region
from ami.territory_data import DEPARTMENTS, REGIONS


def test_regions_and_departements_come_back_after_the_tables_are_emptied(transactional_db):
    call_command("flush", interactive=False, verbosity=0)  # what a transactional test ends with
    assert Region.objects.count() == len(REGIONS)
    assert Department.objects.count() == len(DEPARTMENTS)
