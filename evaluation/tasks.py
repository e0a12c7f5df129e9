"""Celery wrappers of the evaluation app: they load what they need and call the domain code."""

from celery import shared_task

from candidatures.complements import send_due_reminders

from . import region_export
from .models import RegionExport


@shared_task(name="evaluation.send_complement_reminders")
def send_complement_reminders() -> int:
    return send_due_reminders()


@shared_task(name="evaluation.send_review_reminders")
def send_review_reminders() -> int:
    from .reminders import send_review_reminders as send

    return send()


@shared_task(name="evaluation.send_coordinator_digests")
def send_coordinator_digests() -> int:
    from .digest import send_coordinator_digests as send

    return send()


@shared_task(name="evaluation.build_region_export")
def build_region_export(export_id: int) -> str:
    export = RegionExport.objects.select_related("cell__call", "cell__region", "created_by").get(
        pk=export_id
    )
    return region_export.build(export).status


@shared_task(name="evaluation.build_region_export_part")
def build_region_export_part(export_id: int, index: int, pks: list, folders: list) -> None:
    export = RegionExport.objects.select_related("cell__call", "cell__region", "created_by").get(
        pk=export_id
    )
    region_export.build_part(export, index, pks, folders)


@shared_task(name="evaluation.assemble_region_export")
def assemble_region_export(export_id: int) -> str:
    export = RegionExport.objects.select_related("cell", "created_by").get(pk=export_id)
    return region_export.assemble(export).status


@shared_task(name="evaluation.purge_region_exports")
def purge_region_exports() -> int:
    return region_export.purge_expired()
