"""The questionnaire module: a form field per question kind with French errors, per-field
autosave (valid answers kept when others are refused), completeness, snapshot and display,
and query counts that do not grow with the number of questions."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ami.models import QuestionKind, SectionKind
from candidatures import questionnaire
from candidatures.models import Candidature
from candidatures.submission import build_snapshot, completeness_problems
from tests import factories as f

pytestmark = pytest.mark.django_db

EVERY_KIND = [
    ("lieu", "Le lieu", SectionKind.QUESTIONS, [
        {"slug": "nom", "label": "Nom du lieu", "kind": QuestionKind.SHORT_TEXT,
         "max_length": 20},
        {"slug": "pitch", "label": "Le projet", "kind": QuestionKind.LONG_TEXT,
         "max_length": 50},
        {"slug": "surface", "label": "Surface (m²)", "kind": QuestionKind.INTEGER},
        {"slug": "ouverture", "label": "Date d'ouverture", "kind": QuestionKind.DATE},
        {"slug": "site", "label": "Site internet", "kind": QuestionKind.URL, "required": False},
        {"slug": "contact", "label": "Contact", "kind": QuestionKind.EMAIL},
    ]),
    ("activites", "Activités", SectionKind.QUESTIONS, [
        {"slug": "public", "label": "Public principal", "kind": QuestionKind.SINGLE_CHOICE,
         "choices": "Habitants\nEntreprises"},
        {"slug": "activites", "label": "Activités", "kind": QuestionKind.MULTIPLE_CHOICE,
         "choices": "Coworking\nFablab\nCafé"},
        {"slug": "rural", "label": "Commune rurale ?", "kind": QuestionKind.YES_NO},
    ]),
    ("financement", "Financement", SectionKind.BUDGET, [
        {"slug": "fonds", "label": "Fonds propres", "kind": QuestionKind.AMOUNT},
    ]),
]  # fmt: skip


@pytest.fixture
def tiers_lieu():
    call = f.CallFactory(questionnaire=EVERY_KIND)
    membership = f.PtceMembershipFactory()
    candidature = f.CandidatureFactory(ptce=membership.ptce, call=call, requested_amount=None)
    return candidature, membership.user


def _autosave(client, candidature, step, data):
    return client.post(
        reverse("candidature_autosave", args=[candidature.pk, step]), data, HTTP_HX_REQUEST="true"
    )


def test_steps_follow_the_sections_then_documents_and_summary(tiers_lieu):
    candidature, _user = tiers_lieu
    steps = questionnaire.steps(candidature.call)
    assert [s.slug for s in steps] == [
        "lieu", "activites", "financement", "pieces", "recapitulatif",
    ]  # fmt: skip
    assert steps[0].fields[:2] == ("title", "nom")  # the title is always asked first
    assert steps[2].fields == ("requested_amount", "fonds")


def test_every_kind_is_saved_typed_and_shown_back(client, tiers_lieu):
    candidature, user = tiers_lieu
    client.force_login(user)
    response = _autosave(
        client,
        candidature,
        "lieu",
        {"title": "La Fabrique", "nom": "Fabrique", "pitch": "Un lieu partagé.",
         "surface": "1 200", "ouverture": "31/07/2026", "site": "fabrique.exemple.fr",
         "contact": "bonjour@fabrique.fr"},
    )  # fmt: skip
    assert response.status_code == 200 and "Enregistré à" in response.content.decode()
    _autosave(
        client,
        candidature,
        "activites",
        {"public": "Habitants", "activites": ["Coworking", "Café"], "rural": "oui"},
    )
    _autosave(
        client, candidature, "financement", {"requested_amount": "35 000", "fonds": "1 500,50"}
    )
    candidature.refresh_from_db()
    assert candidature.title == "La Fabrique"
    assert candidature.requested_amount == Decimal("35000")
    assert candidature.answers == {
        "nom": "Fabrique", "pitch": "Un lieu partagé.", "surface": 1200,
        "ouverture": "2026-07-31", "site": "https://fabrique.exemple.fr",
        "contact": "bonjour@fabrique.fr", "public": "Habitants",
        "activites": ["Coworking", "Café"], "rural": True, "fonds": "1500.50",
    }  # fmt: skip
    page = client.get(reverse("candidature_step", args=[candidature.pk, "lieu"])).content.decode()
    assert 'value="31/07/2026"' in page and 'value="1200"' in page
    page = client.get(reverse("candidature_step", args=[candidature.pk, "activites"]))
    html = page.content.decode()
    assert re.search(r'value="Coworking" id="id_activites_\d+" checked>', html)
    assert re.search(r'value="Fablab" id="id_activites_\d+">', html)
    assert '<option value="oui" selected>' in html
    # Unticking every box is saved too (the hidden empty value).
    _autosave(client, candidature, "activites", {"activites": [""]})
    candidature.refresh_from_db()
    assert "activites" not in candidature.answers
    rows = questionnaire.flat_rows(candidature.call, candidature.answers)
    assert ("Date d'ouverture", "31/07/2026") in rows
    assert ("Commune rurale ?", "Oui") in rows
    assert ("Fonds propres", "1\u202f500,50\u00a0€") in rows


@pytest.mark.parametrize(
    ("step", "field", "value", "message"),
    [
        ("lieu", "surface", "douze", "Saisissez un nombre entier, par exemple 12."),
        ("activites", "public", "Touristes", "« Touristes » ne fait pas partie des réponses"),
        ("activites", "activites", "Piscine", "« Piscine » ne fait pas partie des réponses"),
        ("lieu", "pitch", "x" * 51, "La réponse dépasse la limite de 50 caractères (51 saisis)"),
        ("lieu", "ouverture", "31/02/2026", "Saisissez une date au format jj/mm/aaaa"),
        ("lieu", "contact", "pas-une-adresse", "Saisissez une adresse électronique valide"),
        ("lieu", "site", "http://", "Saisissez une adresse internet complète"),
        ("activites", "rural", "peut-être", "Répondez « Oui » ou « Non »."),
        ("financement", "fonds", "beaucoup", "Saisissez un montant en euros"),
    ],
)
def test_an_answer_of_the_wrong_kind_is_refused_and_nothing_else_lost(
    client, tiers_lieu, step, field, value, message
):
    candidature, user = tiers_lieu
    client.force_login(user)
    candidature.answers = {field: "kept"} if field in ("pitch", "contact") else {}
    candidature.save()
    other = {"lieu": "nom", "activites": "public", "financement": "requested_amount"}[step]
    if other == field:
        other = "activites"
    other_value = {
        "nom": "Fabrique", "public": "Habitants", "requested_amount": "20000",
        "activites": "Fablab",
    }[other]  # fmt: skip
    response = _autosave(client, candidature, step, {field: value, other: other_value})
    html = response.content.decode()
    assert response.status_code == 200
    assert "sauf 1 champ à corriger" in html
    assert message in html
    candidature.refresh_from_db()
    stored = {**candidature.answers, "requested_amount": candidature.requested_amount}
    expected = {"requested_amount": Decimal("20000"), "activites": ["Fablab"]}
    assert stored[other] == expected.get(other, other_value)
    if field in ("pitch", "contact"):
        assert candidature.answers[field] == "kept"  # the refused value did not replace it
    else:
        assert field not in candidature.answers
    # Leaving the step shows the field's error in the form, the other answer kept.
    response = client.post(
        reverse("candidature_step", args=[candidature.pk, step]), {field: value, "go": "pieces"}
    )
    assert response.status_code == 422
    assert message in response.content.decode()


def test_completeness_asks_every_required_question_by_its_label(tiers_lieu):
    candidature, _user = tiers_lieu
    messages = {(p.message, p.step) for p in completeness_problems(candidature)}
    assert ("L'intitulé du projet est vide.", "lieu") in messages
    assert ("La rubrique « Surface (m²) » est vide.", "lieu") in messages
    assert ("La rubrique « Activités » est vide.", "activites") in messages
    assert ("Le montant demandé est manquant.", "financement") in messages
    assert not any("Site internet" in m for m, _step in messages)  # optional
    candidature.title = "La Fabrique"
    candidature.answers = questionnaire.sample_answers(candidature.call, 3)
    candidature.requested_amount = Decimal("40000")
    candidature.save()
    assert [p for p in completeness_problems(candidature) if p.step != "ptce" and
            p.step != "membres" and p.step != "pieces"] == []  # fmt: skip
    snapshot = build_snapshot(candidature)
    assert snapshot["answers"] == {"title": "La Fabrique", **candidature.answers}


def test_sample_answers_are_valid_answers(tiers_lieu):
    candidature, _user = tiers_lieu
    for number in range(6):
        answers = questionnaire.sample_answers(candidature.call, number)
        for question in questionnaire.questions(candidature.call):
            assert questionnaire._fits(question, answers[question.slug]), (question.slug, number)


def _questions(count):
    per_section = [count // 2, count - count // 2]
    return [
        (f"rubrique-{index}", f"Rubrique {index}", SectionKind.QUESTIONS, [
            {"slug": f"q{index}-{n}", "label": f"Question {index}.{n}",
             "kind": list(QuestionKind)[n % len(QuestionKind)],
             "choices": "Un\nDeux\nTrois"}
            for n in range(size)
        ])
        for index, size in enumerate(per_section, start=1)
    ]  # fmt: skip


def _step_and_autosave_queries(client, count):
    call = f.CallFactory(questionnaire=_questions(count))
    membership = f.PtceMembershipFactory()
    candidature = f.CandidatureFactory(ptce=membership.ptce, call=call)
    candidature.answers = questionnaire.sample_answers(call, 1)
    candidature.save()
    client.force_login(membership.user)
    step = questionnaire.steps(call)[0]
    url = reverse("candidature_step", args=[candidature.pk, step.slug])
    client.get(url)  # warm the caches (session, content types)
    with CaptureQueriesContext(connection) as page:
        assert client.get(url).status_code == 200
    data = {
        q.slug: "Deux" if "choice" in q.kind else "12" for q in step.questions
    }  # every answer of the step changed at once
    with CaptureQueriesContext(connection) as autosave:
        response = _autosave(client, candidature, step.slug, data)
        assert response.status_code == 200
    assert len(step.questions) == count // 2
    return len(page.captured_queries), len(autosave.captured_queries)


def test_step_page_and_autosave_query_counts_do_not_grow_with_questions(client):
    assert _step_and_autosave_queries(client, 5) == _step_and_autosave_queries(client, 30)


def test_dossier_of_the_evaluator_and_export_show_every_answer(tiers_lieu):
    candidature, _user = tiers_lieu
    candidature.title = "La Fabrique"
    candidature.answers = questionnaire.sample_answers(candidature.call, 2)
    header = questionnaire.export_header(candidature.call)
    values = questionnaire.export_values(candidature.call, candidature.answers)
    assert len(header) == len(values) == 10
    assert values[header.index("Surface (m²)")] == candidature.answers["surface"]
    assert values[header.index("Fonds propres")] == Decimal(candidature.answers["fonds"])
    assert Candidature.objects.filter(pk=candidature.pk).exists()
