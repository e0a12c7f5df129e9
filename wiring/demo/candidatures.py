"""Demo PTCEs and candidatures for ``seed_demo``: about 80 across every region, in draft and
submitted states, with small valid documents. Idempotent (keyed on the PTCE names)."""

import hashlib
import random
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction

from accounts.models import RegionalCellMembership, RegionalRole
from ami.identifiers import luhn_ok
from ami.models import Commune, Region
from candidatures import messaging, questionnaire, workflow
from candidatures.models import (
    Candidature,
    CandidatureState,
    CofinancingLine,
    Document,
    MemberCategory,
    Message,
    Ptce,
    PtceMember,
    PtceMembership,
)

THEMES = [
    "alimentaire", "du réemploi", "des mobilités douces", "du numérique solidaire",
    "de l'habitat partagé", "des circuits courts", "de la transition énergétique",
    "des métiers du soin", "de l'économie circulaire", "du bois local",
]  # fmt: skip
KINDS = ["Pôle", "Coopérative", "Fabrique", "Territoire", "Archipel"]
MEMBERS = [
    ("Régie de quartier", MemberCategory.ESS_ENTERPRISE),
    ("Scop", MemberCategory.ESS_ENTERPRISE),
    ("Association d'insertion", MemberCategory.ESS_ENTERPRISE),
    ("SARL", MemberCategory.NON_ESS_ENTERPRISE),
    ("Entreprise du bâtiment", MemberCategory.NON_ESS_ENTERPRISE),
    ("Communauté de communes", MemberCategory.LOCAL_AUTHORITY),
    ("Université", MemberCategory.RESEARCH),
    ("Centre de formation", MemberCategory.TRAINING),
]
DEMO_COUNT = 80


def demo_pdf(title: str) -> bytes:
    """A tiny but valid one-page PDF."""
    text = title.encode("latin-1", "replace")
    stream = b"BT /F1 14 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


def _luhn_siret(rng) -> str:
    """A random SIRET with valid check digits (demo data only)."""

    def complete(digits):
        return next(digits + last for last in "0123456789" if luhn_ok(digits + last))

    siren = complete("".join(rng.choice("0123456789") for _ in range(8)))
    return complete(siren + "".join(rng.choice("0123456789") for _ in range(4)))


def demo_answers(call, number, ptce_name, theme, commune_name) -> dict:
    """The title and answers of a demo candidature: written texts for the questions of the AMI
    PTCE, plausible answers of their kind for any other question of the call."""
    written = {
        "summary": f"{ptce_name} fédère des entreprises de l'ESS, des entreprises classiques et "
        f"des collectivités pour développer la filière {theme} sur son territoire.",
        "territory_description": f"Un bassin de vie autour de {commune_name}, avec des besoins "
        "d'emploi local et des ressources inexploitées.",
        "partners_description": "Les membres mutualisent un poste d'animation, un local et des "
        "achats ; la gouvernance est collégiale.",
        "lever_governance": "Un comité de pilotage mensuel réunit tous les membres.",
        "lever_engineering": "Plan d'action sur trois ans ; 12 emplois créés, 40 tonnes évitées.",
        "lever_research": "Partenariat avec un laboratoire universitaire sur l'évaluation.",
        "lever_viability": "Autonomie visée en trois ans grâce aux prestations mutualisées.",
    }
    answers = questionnaire.sample_answers(call, number, commune_name)
    answers.update((slug, text) for slug, text in written.items() if slug in answers)
    return {
        "title": f"Structurer la filière {theme.split(' ', 1)[-1]} autour de {commune_name}",
        "answers": answers,
    }


def seed_candidatures(call, applicant, user_factory) -> int:
    """Create the demo PTCEs (one owned by ``applicant``) and their candidatures to ``call``.
    ``user_factory(email, first, last)`` returns a verified demo user."""
    rng = random.Random(2025)  # noqa: S311 - deterministic demo data
    regions = list(Region.objects.order_by("code"))
    communes_by_region = {}
    for commune in Commune.objects.select_related("department").order_by("code"):
        communes_by_region.setdefault(commune.department.region_id, []).append(commune)
    document_types = list(call.document_types.all())
    created = 0
    for number in range(1, DEMO_COUNT + 1):
        region = regions[(number - 1) % len(regions)]
        communes = communes_by_region.get(region.code) or [None]
        commune = rng.choice(communes)
        theme = rng.choice(THEMES)
        place = commune.name if commune else region.name
        name = f"{rng.choice(KINDS)} {theme} – {place} (démo {number:02d})"
        if Ptce.objects.filter(name__endswith=f"(démo {number:02d})").exists():
            continue
        with transaction.atomic():
            owner = (
                applicant
                if number == 1
                else user_factory(
                    f"equipe-ptce-{number:02d}@demo.ami-ptce.fr", "Équipe", f"PTCE {number:02d}"
                )
            )
            ptce = Ptce.objects.create(
                name=name,
                siret=_luhn_siret(rng),
                legal_form=rng.choice(["Association déclarée", "SCIC SAS", "SCIC SARL"]),
                address=f"{rng.randint(1, 120)} rue de la Coopération",
                postal_code="",
                seat_commune=commune,
                region=region,
                year_created=rng.randint(2012, 2024),
                description=f"PTCE de la filière {theme}.",
                created_by=owner,
            )
            if commune:
                ptce.territory_communes.set(rng.sample(communes, min(3, len(communes))))
            PtceMembership.objects.create(ptce=ptce, user=owner, is_referent=True)
            chosen = [MEMBERS[0], MEMBERS[3], rng.choice(MEMBERS[5:])]
            chosen += rng.sample(MEMBERS, rng.randint(0, 2))
            PtceMember.objects.bulk_create(
                PtceMember(ptce=ptce, name=f"{label} {place} {index}", category=category)
                for index, (label, category) in enumerate(chosen, start=1)
            )
            if number == 1:
                continue  # the demo applicant starts their own candidature
            candidature = _demo_candidature(
                call, ptce, owner, rng, name, theme, place, document_types
            )
            if rng.random() < 0.65:
                at = call.opens_at + (call.closes_at - call.opens_at) * rng.uniform(0.05, 0.3)
                workflow.transition(candidature, CandidatureState.SUBMITTED, owner, at=at)
            created += 1
    return created


def _demo_candidature(call, ptce, owner, rng, name, theme, place, document_types):
    """A complete demo candidature of ``ptce`` to ``call``: answers, budget, one cofinancing
    line and a small PDF for each mandatory document."""
    candidature = Candidature.objects.create(
        ptce=ptce,
        call=call,
        region=ptce.region,
        requested_amount=Decimal(rng.randrange(30000, 80001, 500)),
        current_step=questionnaire.budget_step(call).slug,
        **demo_answers(call, ptce.pk, name, theme, place),
    )
    CofinancingLine.objects.create(
        candidature=candidature,
        funder=rng.choice(["Région", "Département", "Fondation", "Intercommunalité"]),
        status=rng.choice(["acquired", "requested"]),
        amount=Decimal(rng.randrange(5000, 60001, 1000)),
    )
    for document_type in document_types:
        if not document_type.mandatory:
            continue
        content = demo_pdf(f"{document_type.label} - {name}")
        document = Document(
            candidature=candidature,
            document_type=document_type,
            original_name=f"{document_type.label}.pdf",
            size=len(content),
            content_type="application/pdf",
            sha256=hashlib.sha256(content).hexdigest(),
            uploaded_by=owner,
        )
        document.file.save("demo", ContentFile(content), save=False)
        document.save()
    return candidature


def seed_past_candidatures(call) -> int:
    """Every demo PTCE applies to ``call``, a past edition, and submits within its dates (the
    caller opens the call for the time of it). Skipped when the call has candidatures."""
    if call.candidatures.exists():
        return 0
    rng = random.Random(call.year)  # noqa: S311 - deterministic demo data
    document_types = list(call.document_types.all())
    created = 0
    ptces = Ptce.objects.filter(name__contains="(démo ").select_related("seat_commune", "region")
    for ptce in ptces.order_by("name"):
        owner = ptce.users.order_by("pk").first()
        theme = rng.choice(THEMES)
        place = ptce.seat_commune.name if ptce.seat_commune else ptce.region.name
        with transaction.atomic():
            candidature = _demo_candidature(
                call, ptce, owner, rng, ptce.name, theme, place, document_types
            )
            at = call.opens_at + (call.closes_at - call.opens_at) * rng.uniform(0.3, 0.95)
            workflow.transition(candidature, CandidatureState.SUBMITTED, owner, at=at)
        created += 1
    return created


DEMO_THREAD = [
    (
        "cell",
        "Bonjour, pouvez-vous préciser le nombre d'emplois en insertion prévus sur les deux "
        "années du projet ?",
    ),
    ("team", "Bonjour, nous prévoyons 6 postes en insertion la première année, puis 10."),
]
DEMO_NOTE = "Note interne de démonstration : à comparer avec le budget prévisionnel."


def seed_messages(call, count: int = 3) -> int:
    """A short exchange and an internal note on the first submitted candidatures of ``call``
    whose region has a coordinator (idempotent: nothing when the call has messages already)."""
    if Message.objects.filter(candidature__call=call).exists():
        return 0
    seeded = 0
    candidatures = (
        Candidature.objects.filter(call=call, submitted_at__isnull=False)
        .exclude(state__in=list(messaging.CLOSED_STATES))
        .select_related("call", "ptce", "region")
        .order_by("region_id", "pk")
    )
    for candidature in candidatures:
        coordinator = (
            RegionalCellMembership.objects.filter(
                cell__call=call, cell__region=candidature.region_id, role=RegionalRole.COORDINATOR
            )
            .select_related("user")
            .first()
        )
        owner = candidature.ptce.users.order_by("pk").first()
        if coordinator is None or owner is None:
            continue
        for side, text in DEMO_THREAD:
            messaging.post_message(candidature, coordinator.user if side == "cell" else owner, text)
        messaging.post_note(candidature, coordinator.user, DEMO_NOTE)
        seeded += 1
        if seeded == count:
            break
    return seeded
