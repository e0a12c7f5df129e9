"""Load the 18 regions and 101 départements (data in ``ami.territory_data``)."""

from django.db import migrations


def load_regions_and_departments(apps, schema_editor):
    from ami.territory_data import DEPARTMENTS, REGIONS

    Region = apps.get_model("ami", "Region")
    Department = apps.get_model("ami", "Department")
    for code, name in REGIONS:
        Region.objects.update_or_create(code=code, defaults={"name": name})
    for code, name, region_code in DEPARTMENTS:
        Department.objects.update_or_create(
            code=code, defaults={"name": name, "region_id": region_code}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("ami", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(load_regions_and_departments, migrations.RunPython.noop),
    ]
