"""National-scale bench data (``manage.py seed_bench``): one separate call, « AMI PTCE banc
d'essai », in national review, with N PTCEs and N candidatures spread over the 18 regions, each
submitted, declared admissible, reviewed by its regional cell, given a collegial opinion and a
rank, and handed over to the CNA; a few CNA analyses on top.

The domain functions act on one object at a time (a transition is about ten queries, with
notifications): at 10 000 candidatures they would take hours. This module writes the same rows
with ``bulk_create`` in batches, and one password hash for every account, while keeping what the
domain functions guarantee:

- a submitted candidature has its receipt number (``PTCE-<year>-<pk>``), its frozen snapshot
  (``submission.build_snapshot``'s layout), its territory flags (``submission.territory_flags``'s
  rule on the PTCE's communes), its mandatory documents and a complete application (three
  legal-person members of the required categories, every answer, an amount in the call's range);
- its history holds the events draft → submitted → admissible → regional_review_done, and the
  admissibility checklist is the one ``admission.decide_admissibility`` would freeze;
- each candidature is assigned to ``reviews_per_candidature`` evaluators of its cell, never to
  one with a conflict of interest on it; every review is submitted, the whole grid scored, its
  total computed by ``scoring.compute_total`` (« non applicable » left out);
- the collegial opinion's score is the mean of the reviews (so no justification is needed, as
  ``consolidation.opinion_errors`` wants), and the ranking is the region's default ranking,
  written by ``consolidation.set_ranking`` itself (one call per region);
- every regional cell is handed over (``RegionHandover``) and its candidatures moved to
  « avis régional rendu », as ``consolidation.hand_over`` does.

No email is queued (the domain functions would queue receipts and notifications; the bench has
no use for them). Deterministic: the same N and slug give the same data. Idempotent: a second
run finds the call and changes nothing; ``reset=True`` deletes the call, its candidatures, its
PTCEs and its accounts first.

The call's year is last year's, never the current one: ``seed_demo`` takes « the call of the
current year » as its open edition, which must not be this one.
"""

import base64
import hashlib
import math
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import encrypt
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Count
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
from ami.models import Call, CallPhaseChange, Commune, Criterion, DocumentType, Phase, Region
from ami.territory import load_demo_territory
from candidatures import questionnaire
from candidatures.models import (
    Candidature,
    CandidatureEvent,
    CofinancingLine,
    Document,
    Ptce,
    PtceMember,
    PtceMembership,
)
from evaluation import national_cache
from evaluation.admission import admissibility_checklist
from evaluation.consolidation import HANDOVER_COMMENT, default_ranking, rounded, set_ranking
from evaluation.models import (
    AdmissibilityCheck,
    Assignment,
    ConflictOfInterest,
    ConflictSource,
    ConflictStatus,
    NationalReview,
    RegionalOpinion,
    RegionHandover,
    Review,
    ReviewScore,
    ReviewState,
    ScenarioLine,
)
from evaluation.scoring import compute_total

from .candidatures import KINDS, MEMBERS, THEMES, _luhn_siret, demo_answers, demo_pdf
from .evaluation import (
    COLLEGIAL_MOTIVATIONS,
    NATIONAL_ANALYSES,
    REVIEW_COMMENTS,
    SCORE_COMMENTS,
)
from .evaluation import _opinion as demo_opinion
from .seed import DOCUMENTS, ELIGIBILITY_RULES, GRID

BENCH_SLUG = "ami-ptce-banc-essai"
BENCH_NAME = "AMI PTCE banc d'essai"
BENCH_PASSWORD = "banc-essai-ami-ptce"  # noqa: S105 - bench data only, printed by the command
BENCH_DOMAIN = "banc-essai.ami-ptce.fr"
DEFAULT_COUNT = 10_000
BATCH = 5_000

# Share of the PTCEs per region (weights, roughly the regions' population; overseas smaller).
REGION_WEIGHTS = {
    "01": 1, "02": 1, "03": 1, "04": 2, "06": 1, "11": 18, "24": 4, "27": 4, "28": 5,
    "32": 9, "44": 8, "52": 6, "53": 6, "75": 10, "76": 10, "84": 12, "93": 8, "94": 1,
}  # fmt: skip
# Severity of each regional cell, in points of the 0–5 scale added to every score, so that the
# CNA's normalisation has something to correct.
SEVERITY = {"04": 0.8, "27": 0.6, "44": 0.6, "93": 0.8, "32": -0.8, "53": -0.6, "76": -0.8}
COORDINATORS_PER_CELL = 2
# Evaluators per cell: one for every EVALUATOR_LOAD candidatures of the region, within bounds.
EVALUATOR_LOAD = 40
MIN_EVALUATORS, MAX_EVALUATORS = 3, 40
CNA_MEMBERS = 6
# One candidature in CONFLICT_EVERY has an evaluator of its cell who declared a conflict.
CONFLICT_EVERY = 150
# Share of the candidatures that divide their reviewers, and by how much (points of the scale).
CONTROVERSIAL_SHARE, CONTROVERSY = 0.15, 0.8
NOT_APPLICABLE_SHARE = 0.05
# Share of the best candidatures that get CNA analyses.
ANALYSED_SHARE = 0.02
SECOND_TEAM_MEMBER_SHARE = 0.33
CENT = Decimal("0.01")


@dataclass
class BenchResult:
    call: Call
    created: bool
    seconds: float = 0.0
    counts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)  # stage → seconds
    logins: list = field(default_factory=list)  # (role, email)


def bench_call(slug: str = BENCH_SLUG) -> Call | None:
    return Call.objects.filter(slug=slug).first()


def _email(slug: str, local: str) -> str:
    return f"{slug}.{local}@{BENCH_DOMAIN}"


def bench_users(slug: str = BENCH_SLUG):
    return User.objects.filter(email__startswith=f"{slug}.", email__endswith=f"@{BENCH_DOMAIN}")


def region_counts(total: int, codes) -> dict[str, int]:
    """``total`` spread over the regions by their weight (largest remainders), at least one per
    region when there are enough."""
    codes = sorted(codes)
    base = dict.fromkeys(codes, 1 if total >= len(codes) else 0)
    rest = total - sum(base.values())
    weights = {code: REGION_WEIGHTS.get(code, 1) for code in codes}
    whole = sum(weights.values())
    shares = {code: rest * weights[code] / whole for code in codes}
    counts = {code: base[code] + math.floor(shares[code]) for code in codes}
    left = total - sum(counts.values())
    by_remainder = sorted(codes, key=lambda code: (-(shares[code] % 1), code))
    for code in by_remainder[:left]:
        counts[code] += 1
    return counts


def reset_bench(slug: str = BENCH_SLUG) -> None:
    """Delete the bench call and everything seeded with it (its PTCEs and accounts too): the
    big tables with one DELETE each, the rest (whatever someone added by hand) with the ORM."""
    call = bench_call(slug)
    users = bench_users(slug)
    with transaction.atomic():
        if call is not None:
            ptces = Ptce.objects.filter(pk__in=Candidature.objects.filter(call=call).values("ptce"))
            ptce_ids = list(ptces.values_list("pk", flat=True))
            _delete_where(ScenarioLine, scenario__call=call)
            _delete_where(ReviewScore, review__candidature__call=call)
            for model in (
                Review,
                Assignment,
                ConflictOfInterest,
                NationalReview,
                RegionalOpinion,
                AdmissibilityCheck,
                CandidatureEvent,
                CofinancingLine,
                Document,
            ):
                _delete_where(model, candidature__call=call)
            _delete_where(RegionHandover, cell__call=call)
            Candidature.objects.filter(call=call).delete()
            # A call's grid, documents and questionnaire go with it once it is back in draft
            # (the database refuses to change them otherwise).
            Call.objects.filter(pk=call.pk).update(phase=Phase.DRAFT)
            call.delete()
            for model in (PtceMember, PtceMembership, Ptce.territory_communes.through):
                _delete_where(model, ptce__in=ptce_ids)
            Ptce.objects.filter(pk__in=ptce_ids).delete()
        for model in (EmailAddress, Authenticator, RegionalCellMembership, NationalCellMembership):
            _delete_where(model, user__in=users)
        users.delete()


def _delete_where(model, **filters) -> int:
    """Delete the rows of ``model`` matching ``filters`` in one statement: the ORM's
    ``delete()`` first loads every row to cascade (tens of thousands here). Only for rows that
    nothing else points to."""
    query = model.objects.filter(**filters).values("pk").query
    sql, params = query.sql_with_params()
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {pk} IN ({sql})", params)  # noqa: S608
        return cursor.rowcount


def seed_bench(
    count: int = DEFAULT_COUNT, slug: str = BENCH_SLUG, *, reset: bool = False
) -> BenchResult:
    """Seed the bench call with ``count`` candidatures (see the module's docstring). Returns
    what was done; ``created`` is False when the call was already there."""
    started = time.perf_counter()
    timings = {}
    if reset:
        reset_bench(slug)
        timings["reset"] = time.perf_counter() - started
    existing = bench_call(slug)
    if existing is not None:
        return BenchResult(
            call=existing,
            created=False,
            counts={"candidatures": existing.candidatures.count()},
            logins=_logins(existing, slug),
        )
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Foreign keys are checked at the end of each statement instead of at commit: the
            # audit triggers (``ami.audit``) run a statement per row, and PostgreSQL's cost of
            # each grows with the checks still queued in the transaction (hundreds of
            # thousands here): 28 minutes instead of a few.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        seeder = _Seeder(count, slug)
        seeder.run()
        # Written in bulk: nothing the national dashboard may have kept for the call stays.
        national_cache.changed(seeder.call.pk)
    timings.update(seeder.timings)
    analyzed = time.perf_counter()
    _analyze()
    timings["analyze"] = time.perf_counter() - analyzed
    return BenchResult(
        call=seeder.call,
        created=True,
        seconds=time.perf_counter() - started,
        counts=dict(seeder.counts),
        timings=timings,
        logins=_logins(seeder.call, slug),
    )


def _analyze() -> None:
    """Fresh planner statistics on the tables just filled (autovacuum would take a while)."""
    tables = [
        "accounts_user",
        "candidatures_ptce",
        "candidatures_candidature",
        "candidatures_document",
        "candidatures_candidatureevent",
        "evaluation_assignment",
        "evaluation_review",
        "evaluation_reviewscore",
        "evaluation_regionalopinion",
        "evaluation_nationalreview",
        "evaluation_conflictofinterest",
    ]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def _logins(call, slug) -> list[tuple[str, str]]:
    """Accounts to try the bench with: the CNA, the busiest region's coordinator and its most
    loaded evaluator, and an applicant."""
    biggest = (
        Candidature.objects.filter(call=call)
        .values("region_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "region_id")
        .first()
    )
    if biggest is None:
        return []
    code = biggest["region_id"]
    busiest = (
        Assignment.objects.filter(candidature__call=call, candidature__region_id=code)
        .values("evaluator__email")
        .annotate(n=Count("pk"))
        .order_by("-n", "evaluator__email")
        .first()
    )
    logins = [
        ("CNA – administrateur", _email(slug, "cna-admin")),
        ("CNA – membre", _email(slug, "cna-membre-1")),
        (f"CRA {code} – coordinateur", _email(slug, f"cra-{code}-coordination-1")),
    ]
    if busiest:
        label = f"CRA {code} – évaluateur ({busiest['n']} dossiers)"
        logins.append((label, busiest["evaluator__email"]))
    logins.append(("Porteur de PTCE", _email(slug, "porteur-00001")))
    return logins


class _Seeder:
    """The bench call built stage by stage; each stage bulk-creates one kind of row."""

    def __init__(self, count: int, slug: str):
        self.count = count
        self.slug = slug
        self.rng = random.Random(f"seed_bench:{slug}:{count}")  # noqa: S311 - bench data
        self.counts = Counter()
        self.timings = {}  # stage → seconds
        self.now = timezone.now().replace(microsecond=0)
        self.password = make_password(BENCH_PASSWORD)

    # --- helpers ------------------------------------------------------------------------------

    def _bulk(self, model, objects, name=None):
        created = model.objects.bulk_create(objects, batch_size=BATCH)
        self.counts[name or model._meta.verbose_name_plural] += len(created)
        return created

    def _users(self, specs) -> list:
        """``specs``: (local part, first name, last name); verified primary emails."""
        users = self._bulk(
            User,
            [
                User(
                    email=_email(self.slug, local),
                    first_name=first,
                    last_name=last,
                    password=self.password,
                    date_joined=self.call.opens_at,
                )
                for local, first, last in specs
            ],
            "utilisateurs",
        )
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users],
            batch_size=BATCH,
        )
        return users

    # --- stages -------------------------------------------------------------------------------

    def run(self) -> None:
        stages = [
            self._territory,
            self._call,
            self._cells,
            self._ptces,
            self._candidatures,
            self._admissibility,
            self._reviews,
            self._opinions,
            self._handover,
            self._analyses,
        ]
        for stage in stages:
            started = time.perf_counter()
            stage()
            self.timings[stage.__name__.lstrip("_")] = time.perf_counter() - started

    def _territory(self) -> None:
        """Communes per region with their density and QPV (the demo sample if there are
        none), for the seats, the territories and the flags."""
        if not Commune.objects.exists():
            load_demo_territory()
        self.regions = {region.code: region for region in Region.objects.all()}
        self.communes = defaultdict(list)  # region code → [Commune]
        self.qpv_communes = set(
            Commune.qpvs.through.objects.values_list("commune_id", flat=True).distinct()
        )
        for commune in Commune.objects.select_related("department").order_by("code"):
            self.communes[commune.department.region_id].append(commune)

    def _call(self) -> None:
        now = self.now
        self.call = Call.objects.create(
            name=BENCH_NAME,
            slug=self.slug,
            year=now.year - 1,
            phase=Phase.DRAFT,  # configured first, then moved to its phase (see below)
            description="Appel de banc d'essai à l'échelle nationale (données générées).",
            eligibility_rules=ELIGIBILITY_RULES,
            opens_at=now - timedelta(days=200),
            closes_at=now - timedelta(days=140),
            regional_review_deadline=now - timedelta(days=60),
            national_review_deadline=now + timedelta(days=30),
            envelope=Decimal("5000000"),
            min_amount=Decimal("30000"),
            max_amount=Decimal("80000"),
            priority_rural=True,
            priority_qpv=True,
            reviews_per_candidature=2,
            granting_body_name="État – Haut-commissariat à l'économie sociale et solidaire",
            granting_body_siret="11000105400003",
        )
        last = len(GRID)
        self.criteria = self._bulk(
            Criterion,
            [
                Criterion(
                    call=self.call,
                    label=label,
                    guidance=guidance,
                    weight=weight,
                    order=order,
                    scale_min=0,
                    scale_max=5,
                    # The last criterion (priorities) may be « non applicable ».
                    allows_not_applicable=order == last,
                )
                for order, (label, guidance, weight) in enumerate(GRID, start=1)
            ],
        )
        self.document_types = self._bulk(
            DocumentType,
            [
                DocumentType(
                    call=self.call,
                    label=label,
                    mandatory=mandatory,
                    allowed_formats=list(formats),
                    max_size_mb=size,
                    order=order,
                )
                for order, (label, mandatory, formats, size) in enumerate(DOCUMENTS, start=1)
            ],
        )
        questionnaire.build(self.call, questionnaire.AMI_PTCE)
        # In regional review while the regions rank (``set_ranking`` checks the phase); the
        # hand-over stage moves it to national review. The log has every move already.
        Call.objects.filter(pk=self.call.pk).update(phase=Phase.REGIONAL_REVIEW)
        self.call.phase = Phase.REGIONAL_REVIEW
        moves = [
            (Phase.DRAFT, Phase.OPEN, self.call.opens_at),
            (Phase.OPEN, Phase.REGIONAL_REVIEW, self.call.closes_at),
            (Phase.REGIONAL_REVIEW, Phase.NATIONAL_REVIEW, self.call.regional_review_deadline),
        ]
        self._bulk(
            CallPhaseChange,
            [
                CallPhaseChange(call=self.call, from_phase=a, to_phase=b, at=at, comment="Banc")
                for a, b, at in moves
            ],
        )

    def _cells(self) -> None:
        self.per_region = region_counts(self.count, self.regions)
        cells = self._bulk(
            RegionalCell,
            [RegionalCell(call=self.call, region_id=code) for code in sorted(self.regions)],
        )
        self.cells = {cell.region_id: cell for cell in cells}
        specs, roles = [], []
        for code in sorted(self.regions):
            name = self.regions[code].name
            for k in range(1, COORDINATORS_PER_CELL + 1):
                specs.append((f"cra-{code}-coordination-{k}", f"Coordination {k}", f"CRA {name}"))
                roles.append((code, RegionalRole.COORDINATOR))
            wanted = math.ceil(self.per_region[code] / EVALUATOR_LOAD)
            for k in range(1, max(MIN_EVALUATORS, min(MAX_EVALUATORS, wanted)) + 1):
                specs.append((f"cra-{code}-evaluation-{k:02d}", f"Évaluation {k}", f"CRA {name}"))
                roles.append((code, RegionalRole.EVALUATOR))
        users = self._users(specs)
        self.coordinators = defaultdict(list)
        self.evaluators = defaultdict(list)
        memberships = []
        for user, (code, role) in zip(users, roles, strict=True):
            memberships.append(
                RegionalCellMembership(
                    cell=self.cells[code], user=user, role=role, added_at=self.call.opens_at
                )
            )
            target = self.coordinators if role == RegionalRole.COORDINATOR else self.evaluators
            target[code].append(user)
        self._bulk(RegionalCellMembership, memberships)
        # Each evaluator leans a little, for the whole call.
        self.lean = {
            user.pk: self.rng.uniform(-0.4, 0.4)
            for code in sorted(self.evaluators)
            for user in self.evaluators[code]
        }
        national = NationalCell.objects.create(call=self.call)
        cna = self._users(
            [("cna-admin", "Administration", "CNA")]
            + [(f"cna-membre-{k}", f"Membre {k}", "CNA") for k in range(1, CNA_MEMBERS + 1)]
        )
        self.cna_admin, self.cna_members = cna[0], cna[1:]
        self._authenticators(users + cna)
        self._bulk(
            NationalCellMembership,
            [
                NationalCellMembership(
                    cell=national,
                    user=user,
                    role=NationalRole.ADMINISTRATOR if index == 0 else NationalRole.MEMBER,
                )
                for index, user in enumerate(cna)
            ],
        )

    def _authenticators(self, users) -> None:
        """An authenticator app (TOTP) for every cell member, as ``accounts.mfa`` requires
        before any review screen (the rows allauth's ``TOTP.activate`` writes)."""
        self._bulk(
            Authenticator,
            [
                Authenticator(
                    user=user,
                    type=Authenticator.Type.TOTP,
                    data={"secret": encrypt(base64.b32encode(self.rng.randbytes(20)).decode())},
                )
                for user in users
            ],
            "applications d'authentification",
        )

    def _ptces(self) -> None:
        rng = self.rng
        self.rows = []  # one dict per PTCE / candidature, in creation order
        number = 0
        for code in sorted(self.regions):
            communes = self.communes.get(code, [])
            for _ in range(self.per_region[code]):
                number += 1
                seat = rng.choice(communes) if communes else None
                territory = rng.sample(communes, min(len(communes), rng.randint(1, 3)))
                if seat is not None and seat not in territory:
                    territory.append(seat)
                theme = rng.choice(THEMES)
                place = seat.name if seat else self.regions[code].name
                name = f"{rng.choice(KINDS)} {theme} – {place} (banc {number:05d})"
                members = [MEMBERS[0], MEMBERS[3], rng.choice(MEMBERS[5:])]
                members += rng.sample(MEMBERS, rng.randint(0, 2))
                self.rows.append(
                    {
                        "number": number,
                        "region": code,
                        "seat": seat,
                        "territory": territory,
                        "theme": theme,
                        "place": place,
                        "name": name,
                        "members": members,
                        "second_member": rng.random() < SECOND_TEAM_MEMBER_SHARE,
                        "siret": _luhn_siret(rng),
                        "legal_form": rng.choice(["Association déclarée", "SCIC SAS", "SCIC SARL"]),
                        "address": f"{rng.randint(1, 120)} rue de la Coopération",
                        "year_created": rng.randint(2012, 2024),
                    }
                )
        specs = []
        for row in self.rows:
            specs.append((f"porteur-{row['number']:05d}", "Équipe", f"PTCE {row['number']:05d}"))
            if row["second_member"]:
                specs.append(
                    (f"porteur-{row['number']:05d}-b", "Équipe B", f"PTCE {row['number']:05d}")
                )
        users = iter(self._users(specs))
        for row in self.rows:
            row["team"] = [next(users)] + ([next(users)] if row["second_member"] else [])
        ptces = self._bulk(
            Ptce,
            [
                Ptce(
                    name=row["name"],
                    siret=row["siret"],
                    legal_form=row["legal_form"],
                    address=row["address"],
                    seat_commune=row["seat"],
                    region_id=row["region"],
                    year_created=row["year_created"],
                    description=f"PTCE de la filière {row['theme']}.",
                    created_by=row["team"][0],
                    created_at=self.call.opens_at - timedelta(days=rng.randint(1, 400)),
                )
                for row in self.rows
            ],
        )
        through = Ptce.territory_communes.through
        memberships, members, territories = [], [], []
        for row, ptce in zip(self.rows, ptces, strict=True):
            row["ptce"] = ptce
            for index, user in enumerate(row["team"]):
                memberships.append(PtceMembership(ptce=ptce, user=user, is_referent=index == 0))
            row["member_objects"] = [
                PtceMember(ptce=ptce, name=f"{label} {row['place']} {index}", category=category)
                for index, (label, category) in enumerate(row["members"], start=1)
            ]
            members += row["member_objects"]
            territories += [through(ptce=ptce, commune=c) for c in row["territory"]]
        self._bulk(PtceMembership, memberships)
        self._bulk(PtceMember, members)
        self._bulk(through, territories, "communes des territoires")

    def _flags(self, row) -> tuple[bool, bool]:
        """``submission.territory_flags`` on the PTCE's communes (territory and seat)."""
        communes = {c.pk: c for c in row["territory"]}
        if not communes:
            return False, False
        rural = sum(1 for c in communes.values() if c.is_rural) * 2 >= len(communes)
        return rural, any(pk in self.qpv_communes for pk in communes)

    def _candidatures(self) -> None:
        rng = self.rng
        call = self.call
        with connection.cursor() as cursor:
            # Primary keys taken from the sequence first: the receipt number is made of them.
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('candidatures_candidature', 'id')) "
                "FROM generate_series(1, %s)",
                [len(self.rows)],
            )
            ids = [pk for (pk,) in cursor.fetchall()]
        window = (call.closes_at - call.opens_at).total_seconds()
        candidatures, lines = [], []
        for row, pk in zip(self.rows, ids, strict=True):
            answers = demo_answers(call, pk, row["name"], row["theme"], row["place"])
            submitted_at = call.opens_at + timedelta(seconds=window * rng.uniform(0.2, 0.99))
            rural, qpv = self._flags(row)
            candidature = Candidature(
                pk=pk,
                ptce=row["ptce"],
                call=call,
                region_id=row["region"],
                # Admissible until the hand-over (the ranking needs it).
                state="admissible",
                requested_amount=Decimal(rng.randrange(30000, 80001, 500)).quantize(CENT),
                current_step="recapitulatif",
                receipt_number=f"PTCE-{call.year}-{pk:06d}",
                is_rural=rural,
                in_qpv=qpv,
                created_at=submitted_at - timedelta(days=rng.randint(3, 40)),
                submitted_at=submitted_at,
                **answers,
            )
            line = CofinancingLine(
                candidature=candidature,
                funder=rng.choice(["Région", "Département", "Fondation", "Intercommunalité"]),
                status=rng.choice(["acquired", "requested"]),
                amount=Decimal(rng.randrange(5000, 60001, 1000)).quantize(CENT),
            )
            row["candidature"], row["cofinancing"] = candidature, line
            # The quality of the application: what the reviews score around.
            row["level"] = rng.uniform(1.8, 4.2)
            row["controversial"] = rng.random() < CONTROVERSIAL_SHARE
            candidatures.append(candidature)
            lines.append(line)
        documents = self._documents()
        self._bulk(Candidature, candidatures)
        self._bulk(CofinancingLine, lines)
        self._bulk(Document, documents)

    def _documents(self) -> list:
        """One small PDF per mandatory type, stored once and shared by every candidature (the
        rows differ, the file is the same), and the snapshot that lists them. The candidatures
        are not saved yet: their primary keys are known."""
        files = {}
        for document_type in self.document_types:
            if not document_type.mandatory:
                continue
            content = demo_pdf(f"{document_type.label} - banc d'essai")
            path = f"candidatures/banc-essai/{self.slug}-{document_type.order}.pdf"
            if not default_storage.exists(path):
                default_storage.save(path, ContentFile(content))
            files[document_type] = (path, content)
        documents = []
        for row in self.rows:
            candidature = row["candidature"]
            owner = row["team"][0]
            row["documents"] = [
                Document(
                    candidature=candidature,
                    document_type=document_type,
                    file=path,
                    original_name=f"{document_type.label}.pdf",
                    size=len(content),
                    content_type="application/pdf",
                    sha256=hashlib.sha256(content).hexdigest(),
                    uploaded_by=owner,
                    uploaded_at=candidature.submitted_at - timedelta(hours=2),
                )
                for document_type, (path, content) in files.items()
            ]
            documents += row["documents"]
            candidature.snapshot = self._snapshot(row)
        return documents

    def _snapshot(self, row) -> dict:
        """``submission.build_snapshot``'s layout, from the rows in memory."""
        candidature, ptce, line = row["candidature"], row["ptce"], row["cofinancing"]
        return {
            "answers": questionnaire.snapshot_answers(candidature),
            "requested_amount": str(candidature.requested_amount),
            "cofinancing": [
                {"funder": line.funder, "status": line.status, "amount": str(line.amount)}
            ],
            "budget_total": str(candidature.requested_amount + line.amount),
            "ptce": {
                "name": ptce.name,
                "siret": ptce.siret,
                "legal_form": ptce.legal_form,
                "address": ptce.address,
                "postal_code": ptce.postal_code,
                "seat_commune": ptce.seat_commune_id,
                "region": ptce.region_id,
                "territory_communes": sorted(c.code for c in row["territory"]),
                "year_created": ptce.year_created,
                "website": ptce.website,
                "description": ptce.description,
            },
            # In the order of ``PtceMember.Meta.ordering`` (name), as the database gives them.
            "members": [
                {"name": m.name, "siret": m.siret, "category": m.category}
                for m in sorted(row["member_objects"], key=lambda m: m.name)
            ],
            "documents": [
                {
                    "type": d.document_type.label,
                    "name": d.original_name,
                    "size": d.size,
                    "content_type": d.content_type,
                    "sha256": d.sha256,
                }
                for d in row["documents"]
            ],
        }

    def _admissibility(self) -> None:
        """The checklist ``decide_admissibility`` freezes (every point checked), and the
        events of submission and admissibility."""
        first = self.rows[0]["candidature"] if self.rows else None
        items = admissibility_checklist(first) if first else []
        failed = [item.label for item in items if item.automatic and not item.ok]
        if failed:  # the generated application misses what a submission requires
            raise AssertionError(f"Candidature de banc d'essai incomplète : {failed}")
        frozen = {
            item.key: {"label": item.label, "ok": True, "automatic": item.automatic, "details": []}
            for item in items
        }
        checks, events = [], []
        for row in self.rows:
            candidature = row["candidature"]
            coordinator = self.coordinators[row["region"]][0]
            checked_at = self.call.closes_at + timedelta(hours=self.rng.uniform(24, 480))
            row["checked_at"] = checked_at
            checks.append(
                AdmissibilityCheck(
                    candidature=candidature,
                    answers=frozen,
                    checked_by=coordinator,
                    checked_at=checked_at,
                )
            )
            events += [
                CandidatureEvent(
                    candidature=candidature,
                    actor=row["team"][0],
                    at=candidature.submitted_at,
                    from_state="draft",
                    to_state="submitted",
                ),
                CandidatureEvent(
                    candidature=candidature,
                    actor=coordinator,
                    at=checked_at,
                    from_state="submitted",
                    to_state="admissible",
                ),
            ]
        self._bulk(AdmissibilityCheck, checks)
        self._bulk(CandidatureEvent, events)

    def _reviews(self) -> None:
        """Balanced assignments (round robin over the cell's evaluators, a conflicted evaluator
        skipped), each with a submitted review on the whole grid."""
        rng = self.rng
        per_review = self.call.reviews_per_candidature
        turn = Counter()
        conflicts, assignments, reviews, grids = [], [], [], []
        for index, row in enumerate(self.rows):
            code, candidature = row["region"], row["candidature"]
            evaluators = self.evaluators[code]
            chosen = []
            conflicted = None
            if index % CONFLICT_EVERY == CONFLICT_EVERY - 1:
                conflicted = evaluators[turn[code] % len(evaluators)]
                turn[code] += 1
                conflicts.append(
                    ConflictOfInterest(
                        candidature=candidature,
                        evaluator=conflicted,
                        source=ConflictSource.DECLARED,
                        status=ConflictStatus.CONFIRMED,
                        reason="Membre du conseil d'administration d'un membre du PTCE.",
                        declared_at=row["checked_at"] + timedelta(days=2),
                    )
                )
            while len(chosen) < per_review:
                evaluator = evaluators[turn[code] % len(evaluators)]
                turn[code] += 1
                if evaluator is not conflicted and evaluator not in chosen:
                    chosen.append(evaluator)
            assigned_at = self.call.closes_at + timedelta(days=25)
            row["totals"] = []
            for position, evaluator in enumerate(chosen):
                assignments.append(
                    Assignment(
                        candidature=candidature,
                        evaluator=evaluator,
                        assigned_by=self.coordinators[code][0],
                        assigned_at=assigned_at,
                    )
                )
                bias = SEVERITY.get(code, 0.0) + self.lean[evaluator.pk]
                if row["controversial"]:  # the first reviewer likes it, the second does not
                    bias += CONTROVERSY if position == 0 else -CONTROVERSY
                scores = {}
                for criterion in self.criteria:
                    if criterion.allows_not_applicable and rng.random() < NOT_APPLICABLE_SHARE:
                        scores[criterion.pk] = (None, True)
                        continue
                    raw = row["level"] + bias + rng.gauss(0, 0.5)
                    scores[criterion.pk] = (
                        max(criterion.scale_min, min(criterion.scale_max, round(raw))),
                        False,
                    )
                total = compute_total(self.criteria, scores)
                row["totals"].append(total)
                opinion = _opinion(total)
                submitted_at = assigned_at + timedelta(hours=rng.uniform(24, 900))
                reviews.append(
                    Review(
                        candidature=candidature,
                        evaluator=evaluator,
                        state=ReviewState.SUBMITTED,
                        opinion=opinion,
                        comment=REVIEW_COMMENTS[opinion],
                        total=total,
                        created_at=submitted_at - timedelta(hours=3),
                        submitted_at=submitted_at,
                    )
                )
                grids.append(scores)
        self._bulk(ConflictOfInterest, conflicts)
        self._bulk(Assignment, assignments)
        reviews = self._bulk(Review, reviews)
        scores = [
            ReviewScore(
                review=review,
                criterion_id=criterion_id,
                score=score,
                not_applicable=not_applicable,
                comment="" if not_applicable else SCORE_COMMENTS.get(score, ""),
            )
            for review, grid in zip(reviews, grids, strict=True)
            for criterion_id, (score, not_applicable) in grid.items()
        ]
        self._bulk(ReviewScore, scores)

    def _opinions(self) -> None:
        """The collegial opinion at the mean of the reviews, then each region ranked by
        ``consolidation.set_ranking`` on ``default_ranking`` (one call per region)."""
        opinions = []
        for row in self.rows:
            totals = row["totals"]
            score = rounded(sum(totals, Decimal(0)) / len(totals))
            opinion = _opinion(score)
            opinions.append(
                RegionalOpinion(
                    candidature=row["candidature"],
                    consolidated_score=score,
                    opinion=opinion,
                    motivation=COLLEGIAL_MOTIVATIONS[opinion],
                    written_by=self.coordinators[row["region"]][0],
                )
            )
        self._bulk(RegionalOpinion, opinions)
        for code, cell in sorted(self.cells.items()):
            if self.per_region[code]:
                set_ranking(cell, self.coordinators[code][0], default_ranking(cell))

    def _handover(self) -> None:
        """What ``consolidation.hand_over`` records: the hand-over of every cell, then its
        candidatures in « avis régional rendu » with the event."""
        handovers = {}
        for code, cell in sorted(self.cells.items()):
            handovers[code] = RegionHandover(
                cell=cell,
                handed_over_by=self.coordinators[code][0],
                handed_over_at=self.call.regional_review_deadline
                - timedelta(hours=self.rng.uniform(1, 240)),
                comment="Instruction régionale terminée.",
            )
        self._bulk(RegionHandover, list(handovers.values()))
        Candidature.objects.filter(call=self.call).update(state="regional_review_done")
        Call.objects.filter(pk=self.call.pk).update(phase=Phase.NATIONAL_REVIEW)
        self.call.phase = Phase.NATIONAL_REVIEW
        self._bulk(
            CandidatureEvent,
            [
                CandidatureEvent(
                    candidature=row["candidature"],
                    actor=self.coordinators[row["region"]][0],
                    at=handovers[row["region"]].handed_over_at,
                    from_state="admissible",
                    to_state="regional_review_done",
                    comment=HANDOVER_COMMENT,
                )
                for row in self.rows
            ],
        )

    def _analyses(self) -> None:
        """CNA analyses of the best candidatures, by one or two members each."""
        best = sorted(self.rows, key=lambda row: -row["level"])
        best = best[: max(1, round(len(best) * ANALYSED_SHARE))] if best else []
        analyses = []
        for index, row in enumerate(best):
            readers = self.rng.sample(self.cna_members, 2 if index % 3 == 0 else 1)
            for reader in readers:
                score, opinion, comment = self.rng.choice(NATIONAL_ANALYSES)
                analyses.append(
                    NationalReview(
                        candidature=row["candidature"],
                        reviewer=reader,
                        score=Decimal(score) + Decimal(self.rng.randint(-8, 8)),
                        opinion=opinion,
                        comment=comment,
                    )
                )
        self._bulk(NationalReview, analyses)


def _opinion(score) -> str:
    return demo_opinion(score)
