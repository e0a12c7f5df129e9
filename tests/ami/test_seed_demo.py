from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import NationalCell, RegionalCell, RegionalCellMembership, User
from ami.models import Call, Criterion, DocumentType, Phase, Region
from candidatures.models import Candidature, CandidatureState
from candidatures.submission import completeness_problems

pytestmark = pytest.mark.django_db


def _counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            Call,
            Criterion,
            DocumentType,
            RegionalCell,
            NationalCell,
            User,
            RegionalCellMembership,
        )
    }


def test_seed_demo_is_idempotent_and_prints_the_logins():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = _counts()
    call_command("seed_demo", stdout=StringIO())
    assert _counts() == first

    text = out.getvalue()
    assert "demo-ami-ptce-2025" in text
    assert "coorace@demo.ami-ptce.fr" in text
    edition_2025 = Call.objects.get(slug="ami-ptce-2025")
    assert edition_2025.criteria.count() == 5
    assert edition_2025.document_types.count() == 6
    current = Call.objects.current()
    assert current.phase == Phase.OPEN and current.accepts_submissions()
    assert RegionalCell.objects.filter(call=current).count() == 18
    assert NationalCell.objects.filter(call=current).count() == 1
    # Every cell has a coordinator and an evaluator who can log in (verified email).
    assert RegionalCellMembership.objects.filter(cell__call=current).count() == 36
    assert User.objects.get(email="coorace@demo.ami-ptce.fr").is_staff
    # About 80 PTCEs and candidatures over every region, drafts and submitted ones.
    candidatures = Candidature.objects.filter(call=current)
    assert candidatures.count() == 79
    assert set(candidatures.values_list("region", flat=True)) == set(
        Region.objects.values_list("code", flat=True)
    )
    submitted = candidatures.filter(state=CandidatureState.SUBMITTED)
    assert 30 < submitted.count() < 70
    assert candidatures.filter(state=CandidatureState.DRAFT).exists()
    sample = submitted.first()
    assert sample.receipt_number and sample.snapshot["documents"]
    assert completeness_problems(sample) == []
    document = sample.documents.first()
    assert document.file.read().startswith(b"%PDF")


def test_demo_user_can_log_in(client):
    call_command("seed_demo", stdout=StringIO())
    response = client.post(
        "/compte/login/",
        {"login": "porteur@demo.ami-ptce.fr", "password": "demo-ami-ptce-2025"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/mon-espace/"
