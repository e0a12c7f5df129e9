"""The flush that ends every transactional test (``tests/conftest.py``): every table emptied, by
deleting rows rather than by TRUNCATE (which took seconds per test)."""

from django.apps import apps
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection

from ami.models import Department, Region
from candidatures.models import Message, MessageSide
from tests import factories as f


def test_the_flush_deletes_the_rows_of_every_table(transactional_db):
    tables = connection.introspection.django_table_names(only_existing=True)
    statements = connection.ops.sql_flush(no_style(), tables)
    assert statements[0].startswith("SELECT set_config('pgtrigger.ignore'")
    assert len(statements) == len(tables) + 1
    assert all(statement.startswith("DELETE FROM ") for statement in statements[1:])
    # TRUNCATE is kept when a caller asks for what only it does.
    assert connection.ops.sql_flush(no_style(), tables, reset_sequences=True)[0].startswith(
        "TRUNCATE"
    )

    # Rows linked by foreign keys both ways, deleted in the tables' alphabetical order.
    # Rows that triggers protect too: an open call's grid, a submitted candidature's history.
    f.RegionalMembershipFactory()
    f.CriterionFactory(call=f.CallFactory())
    message = Message.objects.create(
        candidature=f.CandidatureFactory(),
        author=f.UserFactory(),
        side=MessageSide.APPLICANT,
        text="Bonjour",
    )
    assert Region.objects.exists()
    assert Message.objects.filter(pk=message.pk).exists()
    call_command("flush", verbosity=0, interactive=False)
    left = {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }
    # post_migrate puts back what migrations and signals make (content types, permissions,
    # the reference territory): only those tables hold rows again.
    assert Department.objects.exists()
    refilled = {"contenttypes.ContentType", "auth.Permission", "ami.Region", "ami.Department"}
    assert {label for label, count in left.items() if count} <= refilled, left
