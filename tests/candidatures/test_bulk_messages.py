"""Staff write to every applicant of a call or a region (issue 16, item 5): the message is held
in a batch (one email per person of each PTCE's team) until it is sent."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from ami import batches
from ami.models import OutboxBatch, OutboxState
from candidatures import bulk_messages
from candidatures.models import Candidature
from tests import factories as f
from tests.evaluation.national_helpers import national_edition

pytestmark = pytest.mark.django_db


def test_staff_write_to_the_applicants_of_a_region(client, mailoutbox):
    edition = national_edition({"11": [80, 70], "53": [75]})
    staff = f.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    region_11 = Candidature.objects.filter(call=edition.call, region="11")
    response = client.post(
        reverse("admin:candidatures_candidature_changelist") + "?region__code__exact=11",
        {
            "action": "write_to_applicants",
            ACTION_CHECKBOX_NAME: [str(pk) for pk in region_11.values_list("pk", flat=True)],
            "confirm": "yes",
            "subject": "Réunion d'information",
            "text": "Une réunion aura lieu le 12 janvier.",
        },
    )
    batch = OutboxBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:ami_outboxbatch_change", args=[batch.pk])
    expected = sorted(edition.applicants[c.pk].email for c in region_11)
    assert sorted(batch.messages.values_list("recipient", flat=True)) == expected
    assert set(batch.messages.values_list("state", flat=True)) == {OutboxState.HELD}
    assert not mailoutbox
    assert client.get(response["Location"]).status_code == 200  # the batch, previewed
    batches.send(batch, staff)


def test_only_staff_write_to_every_applicant():
    edition = national_edition({"11": [80]})
    with pytest.raises(PermissionDenied):
        bulk_messages.write_to_applicants(
            Candidature.objects.all(), edition.admin, subject="x", text="y"
        )
