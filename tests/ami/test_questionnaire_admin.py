"""Staff build a call's questionnaire in the admin (sections on the call's page, questions on
each section's page), preview it as an applicant will see it, and may change it — and the grid
and documents — only while the call is in draft: from its opening the admin shows them
read-only and the database refuses any change, whoever writes it."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from ami.calls import clone_call, set_phase
from ami.models import Criterion, DocumentType, Phase, Question, QuestionKind, Section
from candidatures import questionnaire
from tests import factories as f

pytestmark = pytest.mark.django_db


def _formset(prefix, rows, initial=0):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{key}": value for key, value in row.items()})
    return data


def _question(order, slug, label, kind, **extra):
    return {"order": str(order), "slug": slug, "label": label, "kind": kind, "required": "on",
            "help_text": "", "max_length": "", "choices": "", **extra}  # fmt: skip


def _section_post(client, section, questions, initial=0):
    data = {
        "call": str(section.call_id),
        "title": section.title,
        "slug": section.slug,
        "kind": section.kind,
        "order": str(section.order),
        **_formset("questions", questions, initial),
    }
    return client.post(reverse("admin:ami_section_change", args=[section.pk]), data)


@pytest.fixture
def staff(client, world):
    user = world.user("staff")
    client.force_login(user)
    return user


@pytest.fixture
def draft_call():
    return f.CallFactory(phase=Phase.DRAFT, questionnaire=False)


def test_staff_build_a_questionnaire_then_preview_it(client, staff, draft_call):
    # The sections, on the call's page.
    page = client.get(reverse("admin:ami_call_change", args=[draft_call.pk])).content.decode()
    assert "rubriques (les étapes du porteur" in page
    assert reverse("questionnaire_preview", args=[draft_call.pk]) in page
    section = Section.objects.create(call=draft_call, title="Le lieu", slug="lieu", order=1)
    # The questions, on the section's page.
    response = _section_post(
        client,
        section,
        [
            _question(1, "surface", "Surface du lieu (m²)", QuestionKind.INTEGER),
            _question(
                2,
                "public",
                "Public principal",
                QuestionKind.SINGLE_CHOICE,
                choices="Habitants\r\nEntreprises",
            ),
            _question(3, "pitch", "Le projet en bref", QuestionKind.LONG_TEXT, max_length="300"),
        ],  # fmt: skip
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(Question.objects.filter(call=draft_call).values_list("slug", flat=True)) == [
        "surface", "public", "pitch",
    ]  # fmt: skip
    # The preview: the form as the applicant sees it, errors included.
    preview = client.get(reverse("questionnaire_preview", args=[draft_call.pk])).content.decode()
    assert "Intitulé du projet" in preview and "Surface du lieu (m²)" in preview
    assert '<option value="Habitants">Habitants</option>' in preview
    assert "Étape 1 sur 4" in preview  # the section, the budget, the documents, the summary
    checked = client.get(
        reverse("questionnaire_preview_step", args=[draft_call.pk, "lieu"]),
        {"verifier": "1", "surface": "beaucoup"},
    ).content.decode()
    assert "Saisissez un nombre entier, par exemple 12." in checked
    # Nobody else reaches the preview.
    client.force_login(f.UserFactory())
    assert client.get(reverse("questionnaire_preview", args=[draft_call.pk])).status_code == 404


@pytest.mark.parametrize(
    ("questions", "field", "message"),
    [
        (
            [
                _question(1, "surface", "Surface", QuestionKind.INTEGER),
                _question(2, "surface", "Surface encore", QuestionKind.INTEGER),
            ],
            "slug",
            "Deux questions du questionnaire ont l&#x27;identifiant « surface ».",
        ),
        (
            [_question(1, "public", "Public", QuestionKind.SINGLE_CHOICE)],
            "choices",
            "Une question à choix doit proposer au moins une réponse.",
        ),
        (
            [_question(1, "pitch", "Pitch", QuestionKind.LONG_TEXT, max_length="0")],
            "max_length",
            "La limite doit être d&#x27;au moins un caractère.",
        ),
        (
            [_question(1, "title", "Titre", QuestionKind.SHORT_TEXT)],
            "slug",
            "L&#x27;identifiant « title » est réservé par la plateforme.",
        ),
    ],  # fmt: skip
)
def test_a_bad_questionnaire_is_refused_in_french(client, staff, draft_call, questions, field,
                                                 message):  # fmt: skip
    section = Section.objects.create(call=draft_call, title="Le lieu", slug="lieu", order=1)
    response = _section_post(client, section, questions)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Question.objects.filter(call=draft_call).exists()


def test_a_slug_taken_in_another_section_is_refused(client, staff, draft_call):
    first = Section.objects.create(call=draft_call, title="Un", slug="un", order=1)
    second = Section.objects.create(call=draft_call, title="Deux", slug="deux", order=2)
    Question.objects.create(section=first, slug="surface", label="Surface", kind="integer")
    response = _section_post(client, second, [_question(1, "surface", "Autre", "integer")])
    assert "Une autre question du questionnaire a l&#x27;identifiant « surface »." in (
        response.content.decode()
    )
    assert Question.objects.filter(call=draft_call).count() == 1


def test_change_before_opening_is_allowed_after_opening_refused(client, staff, draft_call):
    section = Section.objects.create(call=draft_call, title="Le lieu", slug="lieu", order=1)
    question = Question.objects.create(
        section=section, slug="surface", label="Surface", kind="integer", order=1
    )
    row = {**_question(1, "surface", "Surface utile (m²)", "integer"), "id": str(question.pk),
           "section": str(section.pk)}  # fmt: skip
    assert _section_post(client, section, [row], initial=1).status_code == 302
    question.refresh_from_db()
    assert question.label == "Surface utile (m²)"

    set_phase(draft_call, Phase.OPEN, staff)
    page = client.get(reverse("admin:ami_call_change", args=[draft_call.pk])).content.decode()
    assert "sont figés et ne peuvent plus être modifiés" in page
    response = _section_post(
        client, section, [{**row, "label": "Changée après l'ouverture"}], initial=1
    )
    assert response.status_code == 403
    question.refresh_from_db()
    assert question.label == "Surface utile (m²)"
    # Adding a section to the open call from the call's page changes nothing either.
    client.post(
        reverse("admin:ami_call_change", args=[draft_call.pk]),
        _formset(
            "sections", [{"order": "2", "title": "Ajout", "slug": "ajout", "kind": "questions"}]
        ),  # fmt: skip
    )
    assert list(Section.objects.filter(call=draft_call).values_list("slug", flat=True)) == ["lieu"]
    # The domain refuses too, with the reason, whoever writes.
    question.label = "Par le shell"
    with pytest.raises(ValidationError, match="ne peuvent plus être modifiés"):
        question.full_clean()
    for write in (
        lambda: question.save(),
        lambda: Question.objects.filter(pk=question.pk).update(label="Par une mise à jour"),
        lambda: Question.objects.filter(pk=question.pk).delete(),
        lambda: Section.objects.create(call=draft_call, title="Ajout", slug="ajout"),
        lambda: Question.objects.bulk_create(
            [Question(call=draft_call, section=section, slug="x", label="x", kind="integer")]
        ),
    ):
        with pytest.raises(IntegrityError, match="ne peuvent plus être modifiés"):
            with transaction.atomic():
                write()
    question.refresh_from_db()
    assert question.label == "Surface utile (m²)"


def test_the_grid_and_documents_change_only_before_opening(client, staff, draft_call):
    criterion = f.CriterionFactory(call=draft_call, label="Gouvernance", weight=Decimal("25"))
    document_type = f.DocumentTypeFactory(call=draft_call, label="Statuts")
    data = {
        "call": str(draft_call.pk), "label": "Gouvernance", "guidance": "", "weight": "30",
        "scale_min": "0", "scale_max": "5", "order": "1",
    }  # fmt: skip
    url = reverse("admin:ami_criterion_change", args=[criterion.pk])
    assert client.post(url, data).status_code == 302
    criterion.refresh_from_db()
    assert criterion.weight == Decimal("30")

    set_phase(draft_call, Phase.OPEN, staff)
    assert client.post(url, {**data, "weight": "35"}).status_code == 403
    page = client.get(url).content.decode()
    assert 'name="weight"' not in page  # shown read-only
    # Adding a criterion to the open call: refused with the reason.
    response = client.post(reverse("admin:ami_criterion_add"), {**data, "label": "Nouveau"})
    assert response.status_code == 200
    assert "est ouvert : son questionnaire, sa grille" in response.content.decode()
    for write in (
        lambda: Criterion.objects.filter(pk=criterion.pk).update(weight=Decimal("40")),
        lambda: DocumentType.objects.filter(pk=document_type.pk).update(mandatory=False),
        lambda: Criterion.objects.create(call=draft_call, label="Ajout"),
    ):
        with pytest.raises(IntegrityError, match="ne peuvent plus être modifiés"):
            with transaction.atomic():
                write()
    criterion.refresh_from_db()
    document_type.refresh_from_db()
    assert (criterion.weight, Criterion.objects.filter(call=draft_call).count()) == (
        Decimal("30"),
        1,
    )
    assert document_type.mandatory is True


def test_clone_copies_the_questionnaire_same_slugs(staff):
    call = f.CallFactory(year=2025, name="AMI PTCE 2025")
    clone = clone_call(call, staff)
    assert clone.phase == Phase.DRAFT
    source = [(s.slug, s.title, s.kind, s.fields) for s in questionnaire.steps(call)]
    copied = [(s.slug, s.title, s.kind, s.fields) for s in questionnaire.steps(clone)]
    assert copied == source
    assert Question.objects.filter(call=clone).count() == Question.objects.filter(call=call).count()
    # The copy is the new edition's own: editable while it is in draft.
    Question.objects.filter(call=clone, slug="summary").update(label="Résumé (2026)")
    assert Question.objects.get(call=call, slug="summary").label == "Résumé du projet"
