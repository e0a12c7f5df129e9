"""Orphan sweep of the private storage (ami.orphans, ``manage.py sweep_orphans``): files under
the documents', attachments' and exports' prefixes that no row references, older than the grace
period, listed in a dry run and deleted with ``--supprimer``; on the local folder and on a bucket
(moto, tests/s3.py)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from ami import orphans
from candidatures.models import Message, MessageSide
from evaluation.models import RegionExport
from tests import factories as f
from tests.candidatures.helpers import add_document

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["filesystem", "s3"])
def scene(request):
    """Files of each kind, referenced or not, on the chosen backend."""
    if request.param == "s3":
        request.getfixturevalue("s3_bucket")
    candidature = f.CandidatureFactory()
    document = add_document(candidature, f.DocumentTypeFactory(call=candidature.call))
    attachment = default_storage.save(
        f"candidatures/{candidature.pk}/messages/piece", ContentFile(b"devis")
    )
    Message.objects.create(
        candidature=candidature,
        author=f.UserFactory(),
        side=MessageSide.REGIONAL,
        text="Voici",
        attachment=attachment,
        attachment_name="devis.pdf",
        attachment_size=5,
    )
    export = RegionExport.objects.create(
        cell=f.RegionalCellFactory(call=candidature.call),
        created_by=f.UserFactory(),
        file=default_storage.save("exports/regions/gardee.zip", ContentFile(b"zip")),
    )
    orphan_names = [
        default_storage.save(f"candidatures/{candidature.pk}/perdu", ContentFile(b"12345678")),
        default_storage.save(f"candidatures/{candidature.pk}/messages/perdue", ContentFile(b"1")),
        default_storage.save("exports/regions/perdu.zip", ContentFile(b"1")),
    ]
    outside = default_storage.save("autre/hors-prefixe.txt", ContentFile(b"1"))
    kept = [document.file.name, attachment, export.file.name, outside]
    return sorted(orphan_names), kept


def run(*args) -> str:
    out = StringIO()
    call_command("sweep_orphans", *args, stdout=out)
    return out.getvalue()


def test_the_sweep_lists_then_deletes_only_unreferenced_files(scene):
    orphan_names, kept = scene
    output = run("--delai-heures", "0")
    assert "Simulation, rien n'est supprimé : 3 fichiers orphelins, 10\u00a0octets" in output
    assert "--supprimer" in output
    for name in orphan_names:
        assert f"- {name} (" in output
        assert default_storage.exists(name)
    for name in kept:
        assert name not in output

    output = run("--delai-heures", "0", "--supprimer")
    assert "3 fichiers orphelins, 10\u00a0octets ; 3 supprimés." in output
    assert not any(default_storage.exists(name) for name in orphan_names)
    assert all(default_storage.exists(name) for name in kept)

    assert "Simulation, rien n'est supprimé : 0 fichier orphelin, 0\u00a0octet" in run(
        "--delai-heures", "0"
    )


def test_files_younger_than_the_grace_period_are_left_alone(scene):
    orphan_names, _kept = scene
    report = orphans.sweep(delete=True)  # 24 h by default: an upload may still be committing
    assert report.orphans == [] and report.scanned == 6
    assert all(default_storage.exists(name) for name in orphan_names)
    later = orphans.sweep(now=timezone.now() + timedelta(hours=25))
    assert sorted(item.name for item in later.orphans) == orphan_names


def test_the_daily_task_lists_and_deletes_only_when_asked(scene, settings, monkeypatch):
    from ami.celery import app
    from ami.tasks import sweep_orphans

    entry = django_settings.CELERY_BEAT_SCHEDULE["sweep-orphans"]
    assert entry["task"] == sweep_orphans.name == "ami.sweep_orphans"
    assert entry["task"] in app.tasks
    orphan_names, _kept = scene
    settings.ORPHAN_SWEEP_DELETE = False
    assert sweep_orphans.delay().get() == {"orphans": 0, "deleted": 0, "failed": 0}
    monkeypatch.setattr(orphans, "GRACE", timedelta(0))
    assert sweep_orphans.delay().get() == {"orphans": 3, "deleted": 0, "failed": 0}
    assert all(default_storage.exists(name) for name in orphan_names)
    settings.ORPHAN_SWEEP_DELETE = True
    assert sweep_orphans.delay().get() == {"orphans": 3, "deleted": 3, "failed": 0}
    assert not any(default_storage.exists(name) for name in orphan_names)
