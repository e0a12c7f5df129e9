"""The demo dataset. Later issues extend ``seed_demo`` with candidatures, reviews, decisions."""

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from unittest import mock

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.models import (
    NationalCell,
    NationalCellMembership,
    NationalRole,
    RegionalCell,
    RegionalCellMembership,
    RegionalRole,
    User,
)
from ami import outbox
from ami.calls import clone_call, set_phase
from ami.formats import PARIS
from ami.models import (
    Call,
    Criterion,
    DocumentType,
    FileFormat,
    OutboxMessage,
    OutboxState,
    Phase,
    Region,
)

from . import DEMO_DOMAIN
from .candidatures import seed_candidatures, seed_messages, seed_past_candidatures
from .evaluation import seed_national_review, seed_regional_review

DEMO_PASSWORD = "demo-ami-ptce-2025"  # noqa: S105 - published demo credential, demo data only

ELIGIBILITY_RULES = "\n".join(
    [
        "La structure porteuse est une personne morale de droit privé.",
        "Le PTCE réunit au moins trois personnes morales : une entreprise de l'économie sociale"
        " et solidaire, une entreprise hors ESS et un autre acteur (collectivité, organisme de"
        " recherche ou de formation…) — loi ESS du 31 juillet 2014, article 9.",
        "Le PTCE mène une stratégie commune de coopération et de mutualisation au service d'un"
        " projet de développement économique local.",
        "Une seule candidature par PTCE et par édition.",
    ]
)

GRID = [
    (
        "Animation territoriale et gouvernance",
        "Qualité de la gouvernance partagée, implication des membres et des acteurs du territoire.",
        Decimal("25"),
    ),
    (
        "Ingénierie de projet et résultats attendus",
        "Clarté du plan d'action, résultats économiques, sociaux et écologiques attendus"
        " et mesurables.",
        Decimal("25"),
    ),
    (
        "Recherche et innovation",
        "Liens avec la recherche, caractère innovant des coopérations.",
        Decimal("15"),
    ),
    (
        "Viabilité économique",
        "Modèle économique, cofinancements, perspectives d'autonomie.",
        Decimal("20"),
    ),
    (
        "Ancrage territorial et priorités de l'appel",
        "Territoires ruraux, quartiers prioritaires de la politique de la ville.",
        Decimal("15"),
    ),
]

DOCUMENTS = [
    ("Statuts de la structure porteuse", True, [FileFormat.PDF], 10),
    (
        "Liste des membres et convention de coopération",
        True,
        [FileFormat.PDF, FileFormat.DOCX, FileFormat.ODT],
        10,
    ),
    ("Budget prévisionnel du projet", True, [FileFormat.XLSX, FileFormat.ODS, FileFormat.PDF], 5),
    ("Derniers comptes approuvés", True, [FileFormat.PDF], 10),
    ("Relevé d'identité bancaire", True, [FileFormat.PDF, FileFormat.PNG, FileFormat.JPEG], 2),
    ("Lettres de soutien", False, [FileFormat.PDF], 20),
]


@dataclass
class SeedResult:
    current_call: Call
    logins: list[tuple[str, str]] = field(default_factory=list)


def _paris(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def _edition_2025() -> Call:
    call, created = Call.objects.get_or_create(
        slug="ami-ptce-2025",
        defaults={
            "name": "AMI PTCE 2025",
            "year": 2025,
            "phase": Phase.DRAFT,
            "description": (
                "Appel à manifestation d'intérêt « Financer le développement des pôles "
                "territoriaux de coopération économique », co-animé par l'État et Coorace."
            ),
            "eligibility_rules": ELIGIBILITY_RULES,
            "opens_at": _paris(2025, 4, 14, 9),
            "closes_at": _paris(2025, 6, 13, 12),
            "regional_review_deadline": _paris(2025, 7, 11, 18),
            "national_review_deadline": _paris(2025, 9, 19, 18),
            "envelope": Decimal("500000"),
            "min_amount": Decimal("30000"),
            "max_amount": Decimal("80000"),
            "priority_rural": True,
            "priority_qpv": True,
            "reviews_per_candidature": 2,
            # Open data (SCDL): the State grants the subsidies. Demo values.
            "granting_body_name": "État – Haut-commissariat à l'économie sociale et solidaire",
            "granting_body_siret": "11000105400003",
        },
    )
    if created:
        for order, (label, guidance, weight) in enumerate(GRID, start=1):
            Criterion.objects.create(
                call=call,
                label=label,
                guidance=guidance,
                weight=weight,
                order=order,
                scale_min=0,
                scale_max=5,
            )
        for order, (label, mandatory, formats, size) in enumerate(DOCUMENTS, start=1):
            DocumentType.objects.create(
                call=call,
                label=label,
                mandatory=mandatory,
                allowed_formats=list(formats),
                max_size_mb=size,
                order=order,
            )
        from candidatures import questionnaire

        questionnaire.build(call, questionnaire.AMI_PTCE)
    return call


def _current_edition(edition_2025: Call) -> Call:
    """An edition open now, so that every flow can be tried (dates relative to today)."""
    year = timezone.localdate().year
    existing = (
        Call.objects.filter(year=year, slug__startswith="ami-ptce")
        .exclude(pk=edition_2025.pk)
        .first()
    )
    if existing:
        return existing
    call = clone_call(edition_2025, None, year=year)
    today = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    call.phase = Phase.OPEN
    call.opens_at = today - timedelta(days=14)
    call.closes_at = today + timedelta(days=30)
    call.regional_review_deadline = today + timedelta(days=60)
    call.national_review_deadline = today + timedelta(days=90)
    call.save()
    return call


TIERS_LIEUX_GRID = [
    ("Utilité pour le territoire", "Besoins couverts, publics accueillis.", Decimal("40"), 10),
    ("Modèle économique", "Fonds propres, bénévolat, équilibre à trois ans.", Decimal("35"), 10),
    ("Coopérations", "Partenaires associés au lieu et à sa gouvernance.", Decimal("25"), 10),
]
TIERS_LIEUX_DOCUMENTS = [
    ("Plan du lieu", True, [FileFormat.PDF, FileFormat.PNG, FileFormat.JPEG], 5),
    ("Lettre d'engagement de la commune", False, [FileFormat.PDF], 5),
]


def tiers_lieux_questionnaire():
    """Another shape of questionnaire: three sections and other kinds of questions."""
    from ami.models import QuestionKind, SectionKind

    return [
        ("le-lieu", "Le tiers-lieu", SectionKind.QUESTIONS, [
            {"slug": "surface", "label": "Surface du lieu (m²)", "kind": QuestionKind.INTEGER},
            {"slug": "opening_date", "label": "Date d'ouverture au public",
             "kind": QuestionKind.DATE, "help_text": "Au format jj/mm/aaaa."},
            {"slug": "website", "label": "Site internet du lieu", "kind": QuestionKind.URL,
             "required": False},
            {"slug": "contact_email", "label": "Adresse électronique de contact",
             "kind": QuestionKind.EMAIL},
        ]),
        ("activites", "Activités", SectionKind.QUESTIONS, [
            {"slug": "activities", "label": "Activités proposées",
             "kind": QuestionKind.MULTIPLE_CHOICE,
             "choices": "Coworking\nFablab\nAtelier partagé\nCafé associatif\n"
             "Médiation numérique"},
            {"slug": "main_public", "label": "Public principal",
             "kind": QuestionKind.SINGLE_CHOICE,
             "choices": "Habitants\nEntreprises\nJeunes\nPersonnes éloignées de l'emploi"},
            {"slug": "in_rural_commune", "label": "Le lieu est-il situé dans une commune rurale ?",
             "kind": QuestionKind.YES_NO},
            {"slug": "pitch", "label": "Le projet en quelques lignes",
             "kind": QuestionKind.LONG_TEXT, "max_length": 600,
             "help_text": "600 caractères au plus."},
        ]),
        ("financement", "Financement", SectionKind.BUDGET, [
            {"slug": "own_funds", "label": "Fonds propres mobilisés",
             "kind": QuestionKind.AMOUNT},
            {"slug": "volunteers", "label": "Nombre de bénévoles", "kind": QuestionKind.INTEGER,
             "required": False},
        ]),
    ]  # fmt: skip


def _tiers_lieux_call() -> Call:
    """A second, smaller call of another shape on the same instance, open now: « Appel à
    projets Tiers-lieux 2026 », with its own questionnaire, grid and documents."""
    existing = Call.objects.filter(slug="aap-tiers-lieux-2026").first()
    if existing:
        return existing
    from candidatures import questionnaire

    today = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    call = Call.objects.create(
        slug="aap-tiers-lieux-2026",
        name="Appel à projets Tiers-lieux 2026",
        year=2026,
        phase=Phase.DRAFT,
        description="Appel à projets pour l'ouverture et le développement de tiers-lieux "
        "portés par des PTCE (données de démonstration).",
        eligibility_rules="Le lieu est ouvert au public au moins trois jours par semaine.",
        opens_at=today - timedelta(days=21),  # the AMI PTCE stays the current call
        closes_at=today + timedelta(days=45),
        regional_review_deadline=today + timedelta(days=75),
        national_review_deadline=today + timedelta(days=100),
        envelope=Decimal("200000"),
        min_amount=Decimal("10000"),
        max_amount=Decimal("40000"),
        reviews_per_candidature=1,
    )
    for order, (label, guidance, weight, scale_max) in enumerate(TIERS_LIEUX_GRID, start=1):
        Criterion.objects.create(
            call=call, label=label, guidance=guidance, weight=weight, order=order,
            scale_min=0, scale_max=scale_max,
        )  # fmt: skip
    for order, (label, mandatory, formats, size) in enumerate(TIERS_LIEUX_DOCUMENTS, start=1):
        DocumentType.objects.create(
            call=call, label=label, mandatory=mandatory, allowed_formats=list(formats),
            max_size_mb=size, order=order,
        )  # fmt: skip
    questionnaire.build(call, tiers_lieux_questionnaire())
    set_phase(call, Phase.OPEN, None, comment="Ouverture (démo).")
    return call


@cache
def _demo_password_hash() -> str:
    """Hashed once: every demo account shares the published demo password."""
    return make_password(DEMO_PASSWORD)


def _user(email, first_name, last_name, *, staff=False) -> User:
    from allauth.account.models import EmailAddress

    user, created = User.objects.get_or_create(
        email=email,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "is_staff": staff,
            "is_superuser": staff,
        },
    )
    if created:
        user.password = _demo_password_hash()
        user.save(update_fields=["password"])
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def _cells(call: Call, logins: list) -> None:
    national, _ = NationalCell.objects.get_or_create(call=call)
    for role, local, first, last in [
        (NationalRole.ADMINISTRATOR, "cna-admin", "Claire", "Administratrice"),
        (NationalRole.MEMBER, "cna-membre", "Nicolas", "Membre"),
    ]:
        user = _user(f"{local}@{DEMO_DOMAIN}", first, last)
        NationalCellMembership.objects.get_or_create(
            cell=national, user=user, defaults={"role": role}
        )
        logins.append((f"CNA – {role.label}", user.email))
    for region in Region.objects.order_by("code"):
        cell, _ = RegionalCell.objects.get_or_create(call=call, region=region)
        for role, local, first in [
            (RegionalRole.COORDINATOR, "coordination", "Coordination"),
            (RegionalRole.EVALUATOR, "evaluation", "Évaluation"),
        ]:
            user = _user(
                f"cra-{region.code.lower()}-{local}@{DEMO_DOMAIN}", first, f"CRA {region.name}"
            )
            RegionalCellMembership.objects.get_or_create(
                cell=cell, user=user, defaults={"role": role}
            )
            if region.code == "11":
                logins.append((f"CRA Île-de-France – {role.label}", user.email))
    logins.append(("CRA des autres régions", f"cra-<code région>-coordination@{DEMO_DOMAIN}"))


NOT_SENT = "données de démonstration : non envoyé"
QUIET_LOGGERS = ("evaluation", "candidatures", "ami.outbox")


@contextmanager
def quiet_outbox():
    """Seeding goes through the domain functions, which queue notification emails and log each
    action. The outbox rows are written as usual (the demo's outbox shows them) but nothing is
    sent: the dispatch after commit only collects their ids, and the rows are then marked
    « envoyé » with the note ``NOT_SENT``, a final state that no task nor staff action sends
    again. INFO logs are held back meanwhile. Process-wide: fine for ``seed_demo``, a management
    command that runs alone."""
    held = []
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with mock.patch.object(outbox, "_enqueue_after_commit", held.append):
            yield
        OutboxMessage.objects.filter(pk__in=held, state=OutboxState.QUEUED).update(
            state=OutboxState.SENT, last_error=NOT_SENT
        )
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@transaction.atomic
def seed_demo() -> SeedResult:
    try:
        from ami.territory import load_demo_territory
    except ImportError:  # pragma: no cover - territory importers not installed
        load_demo_territory = None
    if load_demo_territory is not None:
        load_demo_territory()
    edition_2025 = _edition_2025()
    current = _current_edition(edition_2025)
    result = SeedResult(current_call=current)
    staff = _user(f"coorace@{DEMO_DOMAIN}", "Camille", "Coorace", staff=True)
    result.logins.append(("Équipe Coorace (administration)", staff.email))
    applicant = _user(f"porteur@{DEMO_DOMAIN}", "Paula", "Porteuse")
    result.logins.append(("Porteur de PTCE", applicant.email))
    _cells(current, result.logins)
    _cells(edition_2025, [])
    _cells(_tiers_lieux_call(), [])
    with quiet_outbox():
        seed_candidatures(current, applicant, _user)
        seed_regional_review(current, _user)
        seed_messages(current)
        if not edition_2025.candidatures.exists():
            # 2025: every demo PTCE applied; the regions handed over; the CNA deliberates.
            set_phase(edition_2025, Phase.OPEN, None, comment="Ouverture (démo).")
            seed_past_candidatures(edition_2025)
            seed_national_review(edition_2025, _user)
    return result
