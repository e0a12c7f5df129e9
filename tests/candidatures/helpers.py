"""Builders for complete, submittable candidatures."""

from decimal import Decimal

from django.core.files.base import ContentFile

from ami.models import Commune, Density
from candidatures import questionnaire
from candidatures.models import Candidature, Document, MemberCategory, PtceMember
from tests import factories as f

VALID_SIRET = "73282932000074"
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def commune(code="75056", name="Paris", department_code="75", region_code="11", density=1):
    obj, _ = Commune.objects.get_or_create(
        code=code,
        defaults={
            "name": name,
            "department": f.department(department_code, region_code),
            "density": Density(density),
        },
    )
    return obj


def complete_ptce(ptce):
    ptce.siret = VALID_SIRET
    ptce.seat_commune = commune()
    ptce.save()
    for name, category in [
        ("Coopérative A", MemberCategory.ESS_ENTERPRISE),
        ("Entreprise B", MemberCategory.NON_ESS_ENTERPRISE),
        ("Commune C", MemberCategory.LOCAL_AUTHORITY),
    ]:
        PtceMember.objects.create(ptce=ptce, name=name, category=category)
    return ptce


def add_document(candidature, document_type, content=PDF_BYTES, name="statuts.pdf"):
    import hashlib

    document = Document(
        candidature=candidature,
        document_type=document_type,
        original_name=name,
        size=len(content),
        content_type="application/pdf",
        sha256=hashlib.sha256(content).hexdigest(),
    )
    document.file.save("x", ContentFile(content), save=False)
    document.save()
    return document


def complete_candidature(candidature: Candidature) -> Candidature:
    """Fill every answer, the PTCE profile and members, and the mandatory documents."""
    complete_ptce(candidature.ptce)
    candidature.region = candidature.ptce.region
    candidature.title = "Réponse title"
    candidature.answers = {
        question.slug: f"Réponse {question.slug}"
        if question.kind in ("short_text", "long_text")
        else value
        for question in questionnaire.questions(candidature.call)
        for value in [questionnaire.sample_answers(candidature.call, 1).get(question.slug)]
    }
    candidature.requested_amount = Decimal("50000")
    candidature.save()
    for document_type in candidature.call.document_types.filter(mandatory=True):
        add_document(candidature, document_type)
    return candidature


def submittable(user=None, **call_kwargs):
    """A call with one mandatory document type and a complete draft of ``user``'s PTCE."""
    call = f.CallFactory(**call_kwargs)
    f.DocumentTypeFactory(call=call, label="Statuts", mandatory=True)
    membership = f.PtceMembershipFactory(**({"user": user} if user else {}))
    candidature = f.CandidatureFactory(ptce=membership.ptce, call=call, requested_amount=None)
    return complete_candidature(candidature), membership.user


def posted(question, raw):
    """A stored answer as the applicant types it in the form (what the browser sends)."""
    value = questionnaire.from_json(question, raw)
    if hasattr(value, "strftime"):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, Decimal):
        return str(value).replace(".", ",")
    if isinstance(value, int):
        return str(value)
    return value


def step_data(call, step_slug, answers, **core) -> dict:
    """Form data of one step: ``answers`` (stored form, by slug) and typed fields (``title``,
    ``requested_amount``) given as typed."""
    step = questionnaire.get_step(call, step_slug)
    data = {name: value for name, value in core.items() if name in step.core}
    for question in step.questions:
        if question.slug in answers:
            data[question.slug] = posted(question, answers[question.slug])
    return data
