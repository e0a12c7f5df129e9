"""PTCE profile, members, team and invitations; company lookup by SIRET (recorded responses,
never the network)."""

import json
import re
import threading
import time
from datetime import timedelta
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from urllib.error import HTTPError

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from ami.identifiers import validate_siret
from ami.models import Commune, Density, OutboxMessage, Qpv
from candidatures import company_lookup
from candidatures import ptce as domain
from candidatures.company_lookup import (
    UNAVAILABLE_MESSAGE,
    CompanyLookupUnavailable,
    legal_form_label,
    lookup_siret,
)
from candidatures.forms import PtceMemberForm, resolve_commune
from candidatures.models import MemberCategory, Ptce, PtceInvitation, PtceMember, PtceMembership
from tests import factories as f
from tests.roles import LOGIN, NOT_FOUND, OK, ROLES, assert_outcome, client_as

pytestmark = pytest.mark.django_db

RECORDED = Path(__file__).parent / "recorded"
ASSOCIATION_SIRET = "81234567600017"
SCIC_BRANCH_SIRET = "84567890300020"
UNKNOWN_SIRET = "90123456700021"


# --- Fixtures --------------------------------------------------------------------------------


@pytest.fixture
def communes(db):
    """A few communes of the referential (regions and départements come from the migration)."""
    rows = [
        ("35238", "Rennes", "35", "53", Density.DENSE),
        ("56178", "Pontivy", "56", "53", Density.LOW),
        ("22136", "Loudéac", "22", "53", Density.VERY_LOW),
        ("93066", "Saint-Denis", "93", "11", Density.DENSE),
        ("97411", "Saint-Denis", "974", "04", Density.DENSE),
        ("75056", "Paris", "75", "11", Density.DENSE),
        ("26113", "Die", "26", "84", Density.VERY_LOW),
        ("14762", "Vire Normandie", "14", "28", Density.LOW),
        ("42218", "Saint-Étienne", "42", "84", Density.DENSE),
        ("76575", "Saint-Étienne-du-Rouvray", "76", "28", Density.DENSE),
    ]
    made = {}
    for code, name, dep, region, density in rows:
        made[code] = Commune.objects.create(
            code=code, name=name, department=f.department(dep, region), density=density
        )
    maurepas = Qpv.objects.create(code="QN03501M", name="Maurepas")
    maurepas.communes.add(made["35238"])
    return made


@pytest.fixture
def referent(db):
    return f.UserFactory(first_name="Claire", last_name="Dupont", email="claire@example.org")


@pytest.fixture
def ptce(communes, referent):
    return domain.create_ptce(
        referent,
        name="Pôle coopération Rennes",
        siret="812 345 676 00017",
        seat_commune=communes["35238"],
        territory_communes=[communes["35238"], communes["56178"]],
    )


@pytest.fixture
def colleague(ptce):
    """A non-referent member of the PTCE's team."""
    user = f.UserFactory(email="marc@example.org")
    PtceMembership.objects.create(ptce=ptce, user=user, is_referent=False)
    return user


def recorded(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


@pytest.fixture
def api(monkeypatch):
    """Serve recorded answers instead of the network; ``api.calls`` keeps the URLs asked."""

    class FakeApi:
        answer: bytes | Exception = recorded("search_no_result.json")
        calls: list[tuple[str, float]] = []

        def __call__(self, url, timeout):
            self.calls.append((url, timeout))
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

    fake = FakeApi()
    fake.calls = []
    monkeypatch.setattr(company_lookup, "http_get", fake)
    return fake


class Markup(HTMLParser):
    """Visible form controls of a page, the ``for`` of its labels and its text."""

    def __init__(self, html: str):
        super().__init__()
        self.controls: list[dict] = []
        self.labelled: set[str] = set()
        self.text_parts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
            self.controls.append({"tag": tag, **attrs})
        if tag == "label" and attrs.get("for"):
            self.labelled.add(attrs["for"])

    def handle_data(self, data):
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def value_of(self, name: str):
        for control in self.controls:
            if control.get("name") == name:
                return control.get("value")
        raise KeyError(name)


def assert_every_control_labelled(html: str):
    markup = Markup(html)
    assert markup.controls
    for control in markup.controls:
        assert control.get("id") in markup.labelled, f"no label for {control}"


# --- SIRET -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["73282932000074", "732 829 320 00074", " 73282932000074 ", ASSOCIATION_SIRET]
)
def test_valid_siret(value):
    validate_siret(value)
    form = PtceMemberForm({"name": "X", "siret": value, "category": MemberCategory.OTHER})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["siret"] == "".join(value.split())


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("73282932000075", "siret_checksum"),  # wrong check digit
        ("7328293200007", "siret_format"),  # 13 digits
        ("732829320000741", "siret_format"),  # 15 digits
        ("7328293200007A", "siret_format"),
    ],
)
def test_invalid_siret(value, code):
    with pytest.raises(ValidationError) as error:
        validate_siret(value)
    assert error.value.code == code
    form = PtceMemberForm({"name": "X", "siret": value, "category": MemberCategory.OTHER})
    assert not form.is_valid()
    assert "SIRET" in form.errors["siret"][0]


def test_siren_is_derived_from_the_siret(ptce, referent):
    assert ptce.siret == ASSOCIATION_SIRET  # spaces removed
    assert ptce.siren == "812345676"
    member = domain.add_member(
        ptce, referent, name="Coop", siret="732 829 320 00074", category="ess_enterprise"
    )
    assert member.siret == "73282932000074"
    assert member.siren == "732829320"
    assert Ptce(name="Sans SIRET").siren == ""


# --- Creating and editing the profile --------------------------------------------------------


def test_creator_is_the_referent_and_region_follows_the_seat(ptce, referent, communes):
    membership = PtceMembership.objects.get(ptce=ptce)
    assert membership.user == referent and membership.is_referent
    assert ptce.created_by == referent
    assert ptce.region_id == "53"
    assert {c.code for c in ptce.territory_communes.all()} == {"35238", "56178"}

    domain.update_ptce(ptce, referent, seat_commune=communes["93066"])
    ptce.refresh_from_db()
    assert ptce.region_id == "11"


def test_a_seat_commune_is_required(referent):
    with pytest.raises(ValidationError) as error:
        domain.create_ptce(referent, name="Sans siège")
    assert "seat_commune" in error.value.message_dict
    assert not Ptce.objects.exists()


def test_invalid_siret_refused_by_the_domain(referent, communes):
    with pytest.raises(ValidationError) as error:
        domain.create_ptce(
            referent, name="X", siret="73282932000075", seat_commune=communes["35238"]
        )
    assert "siret" in error.value.message_dict


def test_only_team_members_edit_the_profile(ptce, colleague):
    domain.update_ptce(ptce, colleague, description="Un pôle de coopération.")
    outsider = f.UserFactory()
    with pytest.raises(PermissionDenied):
        domain.update_ptce(ptce, outsider, name="Détourné")
    ptce.refresh_from_db()
    assert ptce.name == "Pôle coopération Rennes"
    assert ptce.description == "Un pôle de coopération."


def _create_data(**overrides):
    data = {
        "name": "PTCE du Val",
        "siret": "732 829 320 00074",
        "legal_form": "Association déclarée",
        "naf_code": "88.99B",
        "address": "1 rue de la Paix",
        "postal_code": "35000",
        "seat_commune": "35238",
        "territory_communes": "35238, 56178\n22136",
        "year_created": "2019",
        "website": "https://ptce-du-val.example.org",
        "description": "Un pôle.",
    }
    return {**data, **overrides}


def test_create_view_creates_and_redirects_to_the_detail(client, communes, referent):
    client.force_login(referent)
    response = client.post(reverse("ptce_create"), _create_data())
    ptce = Ptce.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("ptce_detail", args=[ptce.pk])
    assert ptce.siret == "73282932000074"
    assert ptce.region_id == "53"
    assert ptce.year_created == 2019
    assert sorted(c.code for c in ptce.territory_communes.all()) == ["22136", "35238", "56178"]
    assert PtceMembership.objects.get(ptce=ptce, user=referent).is_referent


def test_create_form_is_labelled_and_in_french(client, referent):
    client.force_login(referent)
    response = client.get(reverse("ptce_create"))
    html = response.content.decode()
    assert_every_control_labelled(html)
    assert "Commune du siège" in html and "Rechercher" in html


@pytest.mark.parametrize(
    ("typed", "postal_code", "expected"),
    [
        ("35238", "", "35238"),
        ("Rennes", "", "35238"),
        ("rennes", "", "35238"),
        ("Rennes (35238)", "", "35238"),
        ("Saint-Denis", "93200", "93066"),
        ("saint denis", "97400", "97411"),
        ("SAINT DENIS", "93200", "93066"),
        ("die", "", "26113"),
        ("Die", "26150", "26113"),
        ("saint etienne", "", "42218"),
        ("Saint-Etienne", "42000", "42218"),
        ("loudeac", "", "22136"),
        ("Saint-Étienne (42218)", "", "42218"),
    ],
)
def test_seat_commune_by_code_or_name(communes, typed, postal_code, expected):
    assert resolve_commune(typed, postal_code).code == expected


def test_ambiguous_commune_lists_the_candidates(communes):
    with pytest.raises(ValidationError) as error:
        resolve_commune("Saint-Denis")
    message = error.value.messages[0]
    assert "Plusieurs communes" in message
    assert "Saint-Denis, Seine-Saint-Denis (93066)" in message
    assert "Saint-Denis, La Réunion (97411)" in message


def test_misspelt_commune_suggests_close_names_with_their_departement(communes):
    with pytest.raises(ValidationError) as error:
        resolve_commune("saint etiene")
    message = error.value.messages[0]
    assert "Saint-Étienne, Loire (42218)" in message
    assert "Saint-Étienne-du-Rouvray, Seine-Maritime (76575)" in message
    assert message.index("(42218)") < message.index("(76575)")  # the closest first


def test_unknown_commune_suggests_close_names(communes):
    with pytest.raises(ValidationError) as error:
        resolve_commune("Denis")
    assert "Aucune commune" in error.value.messages[0]
    assert "Saint-Denis, Seine-Saint-Denis (93066)" in error.value.messages[0]
    with pytest.raises(ValidationError) as error:
        resolve_commune("99999")
    assert "99999" in error.value.messages[0]


def test_create_view_shows_errors_in_french(client, communes, referent):
    client.force_login(referent)
    data = _create_data(
        seat_commune="Saint-Denis",
        postal_code="",
        territory_communes="35238 12345",
        year_created=str(timezone.localdate().year + 1),
        siret="73282932000075",
    )
    response = client.post(reverse("ptce_create"), data)
    assert response.status_code == 200
    assert not Ptce.objects.exists()
    form = response.context["form"]
    assert "Plusieurs communes" in form.errors["seat_commune"][0]
    assert "12345" in form.errors["territory_communes"][0]
    assert "futur" in form.errors["year_created"][0]
    assert "clé de contrôle" in form.errors["siret"][0]
    html = response.content.decode()
    assert "fr-input-group--error" in html and 'aria-invalid="true"' in html


def test_edit_view_updates_the_profile(client, ptce, referent, communes):
    client.force_login(referent)
    url = reverse("ptce_edit", args=[ptce.pk])
    page = client.get(url)
    markup = Markup(page.content.decode())
    assert markup.value_of("seat_commune") == "35238"
    assert "35238" in page.content.decode() and "56178" in page.content.decode()
    data = _create_data(name="Pôle renommé", seat_commune="Paris", postal_code="75001")
    response = client.post(url, data)
    assert response.status_code == 302
    ptce.refresh_from_db()
    assert ptce.name == "Pôle renommé"
    assert ptce.seat_commune_id == "75056" and ptce.region_id == "11"


def test_invalid_edit_leaves_the_ptce_untouched(client, ptce, referent):
    client.force_login(referent)
    response = client.post(
        reverse("ptce_edit", args=[ptce.pk]), _create_data(name="", seat_commune="")
    )
    assert response.status_code == 200
    ptce.refresh_from_db()
    assert ptce.name == "Pôle coopération Rennes"
    assert "Modifier le PTCE « Pôle coopération Rennes »" in response.content.decode()


def test_detail_shows_region_rurality_qpvs_members_team_and_candidatures(
    client, ptce, referent, colleague, communes
):
    domain.add_member(ptce, referent, name="Coop Bois", category="ess_enterprise")
    domain.invite(ptce, "nouvelle@example.org", referent)
    candidature = f.CandidatureFactory(ptce=ptce, region=ptce.region)
    client.force_login(colleague)
    response = client.get(reverse("ptce_detail", args=[ptce.pk]))
    assert response.status_code == 200
    text = Markup(response.content.decode()).text
    assert "Bretagne" in text
    assert "commune non rurale" in text  # Rennes is dense
    assert "Maurepas (QN03501M)" in text
    assert "2 communes sur le territoire, dont 1 rurale ; 1 quartier prioritaire" in text
    assert "Coop Bois" in text
    assert "claire@example.org" in text and "marc@example.org" in text
    assert "nouvelle@example.org" in text
    assert reverse("candidature_detail", args=[candidature.pk]) in response.content.decode()

    domain.update_ptce(ptce, referent, seat_commune=communes["56178"])
    text = Markup(client.get(reverse("ptce_detail", args=[ptce.pk])).content.decode()).text
    assert "commune rurale" in text and "aucun quartier prioritaire" in text


def test_detail_query_count_does_not_grow_with_rows(
    client, ptce, referent, communes, django_assert_max_num_queries
):
    client.force_login(referent)
    url = reverse("ptce_detail", args=[ptce.pk])
    client.get(url)  # warm caches (content types, sessions)
    with django_assert_max_num_queries(20) as few:
        client.get(url)
    for i in range(8):
        domain.add_member(ptce, referent, name=f"Membre {i}", category="other")
        user = f.UserFactory()
        PtceMembership.objects.create(ptce=ptce, user=user, is_referent=False)
        PtceInvitation.objects.create(ptce=ptce, email=f"invite{i}@example.org")
    domain.update_ptce(ptce, referent, territory_communes=list(communes.values()))
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)


# --- Members (legal persons) -----------------------------------------------------------------


def test_members_add_and_remove(ptce, colleague):
    member = domain.add_member(
        ptce, colleague, name="  Mairie de Pontivy ", category="local_authority"
    )
    assert member.name == "Mairie de Pontivy"
    with pytest.raises(ValidationError) as error:
        domain.add_member(ptce, colleague, name="Sans catégorie", category="")
    assert "category" in error.value.message_dict
    domain.add_member(
        ptce, colleague, name="Coop", siret="73282932000074", category="ess_enterprise"
    )
    with pytest.raises(ValidationError) as error:
        domain.add_member(ptce, colleague, name="Doublon", siret="73282932000074", category="other")
    assert "déjà membre" in error.value.message_dict["siret"][0]
    domain.remove_member(member, colleague)
    assert list(ptce.members.values_list("name", flat=True)) == ["Coop"]


def test_outsiders_cannot_change_members(ptce, referent):
    member = domain.add_member(ptce, referent, name="Coop", category="ess_enterprise")
    outsider = f.UserFactory()
    with pytest.raises(PermissionDenied):
        domain.add_member(ptce, outsider, name="Intrus", category="other")
    with pytest.raises(PermissionDenied):
        domain.remove_member(member, outsider)
    assert ptce.members.count() == 1


def test_members_views(client, ptce, colleague):
    client.force_login(colleague)
    url = reverse("ptce_members", args=[ptce.pk])
    page = client.get(url)
    assert_every_control_labelled(page.content.decode())
    assert "Il manque encore" in page.content.decode()
    response = client.post(
        url, {"name": "Coop Bois", "siret": "732 829 320 00074", "category": "ess_enterprise"}
    )
    assert response.status_code == 302
    member = PtceMember.objects.get(ptce=ptce)
    assert member.siret == "73282932000074"
    response = client.post(url, {"name": "", "siret": "123", "category": "nope"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "siret", "category"}

    delete_url = reverse("ptce_member_delete", args=[ptce.pk, member.pk])
    assert "Retirer « Coop Bois »" in client.get(delete_url).content.decode()
    assert PtceMember.objects.filter(pk=member.pk).exists()  # GET only asks
    response = client.post(delete_url)
    assert response["Location"] == url
    assert not PtceMember.objects.filter(pk=member.pk).exists()


def test_member_of_another_ptce_is_not_found(client, ptce, referent, communes):
    other_owner = f.UserFactory()
    other = domain.create_ptce(other_owner, name="Autre", seat_commune=communes["75056"])
    foreign = domain.add_member(other, other_owner, name="Étrangère", category="other")
    client.force_login(referent)
    response = client.post(reverse("ptce_member_delete", args=[ptce.pk, foreign.pk]))
    assert response.status_code == 404
    assert PtceMember.objects.filter(pk=foreign.pk).exists()


# --- Invitations -----------------------------------------------------------------------------


def test_invitation_is_queued_in_the_outbox_with_its_link(
    ptce, referent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = domain.invite(ptce, " Nouvelle.Personne@Example.org ", referent)
    assert invitation.email == "nouvelle.personne@example.org"
    assert invitation.is_pending and invitation.invited_by == referent
    message = OutboxMessage.objects.get(event="ptce_invitation")
    link = "http://testserver" + reverse("invitation_accept", args=[invitation.token])
    assert message.recipient == "nouvelle.personne@example.org"
    assert "Pôle coopération Rennes" in message.subject
    assert link in message.body_text and link in message.body_html
    assert "Claire Dupont" in message.body_text
    assert message.related_id == str(invitation.pk)


def test_inviting_again_renews_the_same_invitation(ptce, referent):
    first = domain.invite(ptce, "nouvelle@example.org", referent)
    PtceInvitation.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(days=1))
    second = domain.invite(ptce, "NOUVELLE@example.org", referent)
    assert second.pk == first.pk and second.token == first.token
    assert second.is_pending
    assert PtceInvitation.objects.count() == 1
    assert OutboxMessage.objects.filter(event="ptce_invitation").count() == 2


def test_cannot_invite_someone_already_in_the_team(ptce, referent, colleague):
    with pytest.raises(ValidationError) as error:
        domain.invite(ptce, "MARC@example.org", referent)
    assert "déjà partie de l'équipe" in error.value.message_dict["email"][0]
    with pytest.raises(ValidationError) as error:
        domain.invite(ptce, "pas-une-adresse", referent)
    assert "email" in error.value.message_dict
    assert not PtceInvitation.objects.exists()


def test_only_referents_invite(ptce, colleague):
    with pytest.raises(PermissionDenied):
        domain.invite(ptce, "nouvelle@example.org", colleague)
    assert not PtceInvitation.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_accept_with_the_matching_verified_email(ptce, referent):
    invitation = domain.invite(ptce, "Nouvelle@Example.org", referent)
    user = f.UserFactory(email="nouvelle@example.org")
    membership = domain.accept_invitation(invitation, user)
    assert membership.ptce == ptce and membership.user == user and not membership.is_referent
    invitation.refresh_from_db()
    assert invitation.accepted_by == user and invitation.accepted_at is not None
    # Idempotent.
    assert domain.accept_invitation(invitation, user) == membership
    assert PtceMembership.objects.filter(ptce=ptce).count() == 2


def test_accept_with_a_secondary_verified_address(ptce, referent):
    invitation = domain.invite(ptce, "pro@example.org", referent)
    user = f.UserFactory(email="perso@example.org")
    EmailAddress.objects.create(user=user, email="pro@example.org", verified=True)
    domain.accept_invitation(invitation, user)
    assert ptce.memberships.filter(user=user).exists()


def test_accept_refused_with_another_or_unverified_email(ptce, referent):
    invitation = domain.invite(ptce, "nouvelle@example.org", referent)
    stranger = f.UserFactory(email="autre@example.org")
    with pytest.raises(PermissionDenied) as error:
        domain.accept_invitation(invitation, stranger)
    assert "autre adresse électronique" in str(error.value)
    unverified = f.UserFactory(email="nouvelle@example.org", verified=False)
    EmailAddress.objects.create(user=unverified, email="nouvelle@example.org", verified=False)
    with pytest.raises(PermissionDenied):
        domain.accept_invitation(invitation, unverified)
    assert ptce.memberships.count() == 1


def test_accept_refused_when_expired_or_already_used(ptce, referent):
    invitation = domain.invite(ptce, "nouvelle@example.org", referent)
    user = f.UserFactory(email="nouvelle@example.org")
    PtceInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    invitation.refresh_from_db()
    with pytest.raises(ValidationError) as error:
        domain.accept_invitation(invitation, user)
    assert error.value.code == "expired" and "a expiré le" in error.value.messages[0]

    other_invitation = domain.invite(ptce, "deux@example.org", referent)
    first = f.UserFactory(email="deux@example.org")
    domain.accept_invitation(other_invitation, first)
    second = f.UserFactory(email="deux-bis@example.org")
    EmailAddress.objects.filter(user=first).delete()
    EmailAddress.objects.create(user=second, email="deux@example.org", verified=True)
    with pytest.raises(ValidationError) as error:
        domain.accept_invitation(other_invitation, second)
    assert error.value.code == "used" and "déjà été utilisée" in error.value.messages[0]
    assert not ptce.memberships.filter(user=second).exists()


def test_invitation_page_flow(client, ptce, referent):
    invitation = domain.invite(ptce, "nouvelle@example.org", referent)
    url = reverse("invitation_accept", args=[invitation.token])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=" in response["Location"]

    user = f.UserFactory(email="nouvelle@example.org")
    client.force_login(user)
    page = client.get(url).content.decode()
    assert "Pôle coopération Rennes" in page and ">Accepter</button>" in page
    response = client.post(url)
    assert response["Location"] == reverse("ptce_detail", args=[ptce.pk])
    assert ptce.memberships.filter(user=user, is_referent=False).exists()
    page = client.get(url).content.decode()
    assert "Vous faites partie de l'équipe" in page
    assert client.get(reverse("ptce_detail", args=[ptce.pk])).status_code == 200


def test_invitation_page_explains_a_refusal(client, ptce, referent):
    invitation = domain.invite(ptce, "nouvelle@example.org", referent)
    url = reverse("invitation_accept", args=[invitation.token])
    client.force_login(f.UserFactory(email="autre@example.org"))
    page = client.get(url).content.decode()
    assert "autre adresse électronique" in page and ">Accepter</button>" not in page
    assert client.post(url)["Location"] == url
    assert ptce.memberships.count() == 1
    assert client.get(reverse("invitation_accept", args=["inconnu"])).status_code == 404


def test_team_view_invites(client, ptce, referent, colleague, django_capture_on_commit_callbacks):
    url = reverse("ptce_team", args=[ptce.pk])
    client.force_login(referent)
    page = client.get(url).content.decode()
    assert_every_control_labelled(page)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"email": "nouvelle@example.org"})
    assert response.status_code == 302
    assert PtceInvitation.objects.filter(ptce=ptce, email="nouvelle@example.org").exists()
    response = client.post(url, {"email": "marc@example.org"})
    assert "déjà partie de l'équipe" in response.context["form"].errors["email"][0]

    client.force_login(colleague)
    page = client.get(url).content.decode()
    assert "Envoyer l'invitation" not in page
    assert client.post(url, {"email": "x@example.org"}).status_code == 403
    assert not PtceInvitation.objects.filter(email="x@example.org").exists()


# --- Team (people) ---------------------------------------------------------------------------


def test_referent_removes_a_member_and_a_member_leaves(ptce, referent, colleague):
    third = f.UserFactory()
    third_membership = PtceMembership.objects.create(ptce=ptce, user=third)
    colleague_membership = PtceMembership.objects.get(ptce=ptce, user=colleague)
    with pytest.raises(PermissionDenied):
        domain.remove_team_member(third_membership, colleague)  # not a referent
    domain.remove_team_member(third_membership, referent)
    domain.remove_team_member(colleague_membership, colleague)  # leaves
    assert list(ptce.memberships.values_list("user", flat=True)) == [referent.pk]


def test_the_last_referent_cannot_be_removed(ptce, referent, colleague):
    referent_membership = PtceMembership.objects.get(ptce=ptce, user=referent)
    with pytest.raises(ValidationError) as error:
        domain.remove_team_member(referent_membership, referent)
    assert error.value.code == "last_referent"
    with pytest.raises(ValidationError):
        domain.set_referent(referent_membership, referent, False)
    with pytest.raises(PermissionDenied):
        domain.set_referent(referent_membership, colleague, False)
    colleague_membership = domain.set_referent(
        PtceMembership.objects.get(user=colleague), referent, True
    )
    assert colleague_membership.is_referent
    domain.remove_team_member(referent_membership, referent)  # another referent remains
    assert list(ptce.memberships.values_list("user", flat=True)) == [colleague.pk]


def test_team_remove_views(client, ptce, referent, colleague):
    colleague_membership = PtceMembership.objects.get(ptce=ptce, user=colleague)
    referent_membership = PtceMembership.objects.get(ptce=ptce, user=referent)
    remove_colleague = reverse("ptce_team_remove", args=[ptce.pk, colleague_membership.pk])
    remove_referent = reverse("ptce_team_remove", args=[ptce.pk, referent_membership.pk])

    client.force_login(colleague)
    assert client.get(remove_referent).status_code == 403
    assert client.post(remove_referent).status_code == 403
    assert "Quitter l'équipe" in client.get(remove_colleague).content.decode()

    client.force_login(referent)
    response = client.post(remove_referent, follow=True)  # last referent
    assert "au moins un référent" in response.content.decode()
    assert PtceMembership.objects.filter(pk=referent_membership.pk).exists()
    response = client.post(remove_colleague)
    assert response["Location"] == reverse("ptce_team", args=[ptce.pk])
    assert not PtceMembership.objects.filter(pk=colleague_membership.pk).exists()


def test_team_view_names_referents(client, ptce, referent, colleague):
    membership = PtceMembership.objects.get(user=colleague)
    url = reverse("ptce_team", args=[ptce.pk])
    client.force_login(colleague)
    data = {"action": "referent", "membership": membership.pk, "value": "1"}
    assert client.post(url, data).status_code == 403
    client.force_login(referent)
    client.post(url, data)
    membership.refresh_from_db()
    assert membership.is_referent


def test_leaving_redirects_to_the_dashboard(client, ptce, colleague):
    membership = PtceMembership.objects.get(user=colleague)
    client.force_login(colleague)
    response = client.post(reverse("ptce_team_remove", args=[ptce.pk, membership.pk]))
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("ptce_detail", args=[ptce.pk])).status_code == 404


# --- Who sees what (DESIGN §3) ---------------------------------------------------------------

TEAM_ONLY = dict.fromkeys(ROLES, NOT_FOUND) | {"anonymous": LOGIN, "applicant": OK}
SIGNED_IN = dict.fromkeys(ROLES, OK) | {"anonymous": LOGIN}


def _first_member(w):
    return PtceMember.objects.get_or_create(
        ptce=w.ptce_a, name="Membre A", defaults={"category": MemberCategory.OTHER}
    )[0]


def _applicant_membership(w):
    return PtceMembership.objects.get(ptce=w.ptce_a, user=w.user("applicant"))


PTCE_SCREENS = [
    ("ptce_create", lambda w: reverse("ptce_create"), SIGNED_IN),
    ("company_lookup", lambda w: reverse("company_lookup") + "?siret=123", SIGNED_IN),
    ("ptce_detail", lambda w: reverse("ptce_detail", args=[w.ptce_a.pk]), TEAM_ONLY),
    ("ptce_edit", lambda w: reverse("ptce_edit", args=[w.ptce_a.pk]), TEAM_ONLY),
    ("ptce_members", lambda w: reverse("ptce_members", args=[w.ptce_a.pk]), TEAM_ONLY),
    (
        "ptce_member_delete",
        lambda w: reverse("ptce_member_delete", args=[w.ptce_a.pk, _first_member(w).pk]),
        TEAM_ONLY,
    ),
    ("ptce_team", lambda w: reverse("ptce_team", args=[w.ptce_a.pk]), TEAM_ONLY),
    (
        "ptce_team_remove",
        lambda w: reverse("ptce_team_remove", args=[w.ptce_a.pk, _applicant_membership(w).pk]),
        TEAM_ONLY,
    ),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("screen", PTCE_SCREENS, ids=[s[0] for s in PTCE_SCREENS])
def test_ptce_screens_by_role(client, world, role, screen):
    _name, url_of, expected = screen
    url = url_of(world)
    response = client_as(client, world, role).get(url)
    assert_outcome(response, expected[role], url, role)


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("anonymous", "applicant")])
def test_outsiders_cannot_change_a_ptce(client, world, role):
    client_as(client, world, role)
    ptce = world.ptce_a
    member = _first_member(world)
    membership = _applicant_membership(world)
    posts = [
        (reverse("ptce_edit", args=[ptce.pk]), {"name": "Détourné"}),
        (reverse("ptce_members", args=[ptce.pk]), {"name": "Intrus", "category": "other"}),
        (reverse("ptce_member_delete", args=[ptce.pk, member.pk]), {}),
        (reverse("ptce_team", args=[ptce.pk]), {"email": "intrus@example.org"}),
        (reverse("ptce_team_remove", args=[ptce.pk, membership.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 404, url
    ptce.refresh_from_db()
    assert ptce.name != "Détourné"
    assert list(ptce.members.all()) == [member]
    assert not ptce.invitations.exists()
    assert PtceMembership.objects.filter(pk=membership.pk).exists()


# --- Company lookup --------------------------------------------------------------------------


def test_lookup_found_association(api, communes, settings):
    api.answer = recorded("search_association.json")
    company = lookup_siret("812 345 676 00017")
    url, timeout = api.calls[0]
    assert url == settings.COMPANY_LOOKUP_URL + "?q=81234567600017"
    assert timeout == settings.COMPANY_LOOKUP_TIMEOUT == 3
    assert company.siren == "812345676" and company.siret == ASSOCIATION_SIRET
    assert company.name == "POLE COOPERATION ET TERRITOIRES DU PAYS DE RENNES"
    assert company.legal_form == "Association déclarée" and company.legal_form_code == "9220"
    assert company.naf_code == "88.99B"
    assert company.address == "12 RUE DE LA COOPERATION"
    assert company.postal_code == "35000"
    assert company.commune == communes["35238"]
    assert company.is_head_office and not company.is_closed
    assert company.form_values["seat_commune"] == "35238"


def test_lookup_secondary_establishment(api, communes):
    api.answer = recorded("search_scic_secondary_establishment.json")
    company = lookup_siret(SCIC_BRANCH_SIRET)
    assert company.legal_form == "Société par actions simplifiée (SAS)"
    assert company.naf_code == "16.23Z"  # the establishment's, not the head office's
    assert company.address == "ZONE ARTISANALE DE KERVER"
    assert company.commune_code == "22136" and company.commune == communes["22136"]
    assert not company.is_head_office


def test_lookup_commune_outside_the_referential(api, db):
    api.answer = recorded("search_association.json")
    company = lookup_siret(ASSOCIATION_SIRET)
    assert company.commune is None and company.commune_code == "35238"
    assert company.form_values["seat_commune"] == ""


@pytest.mark.parametrize("answer", ["search_no_result.json", "search_other_company.json"])
def test_lookup_not_found(api, db, answer):
    api.answer = recorded(answer)
    assert lookup_siret(ASSOCIATION_SIRET) is None


@pytest.mark.parametrize(
    "failure",
    [
        TimeoutError("timed out"),
        HTTPError("https://x", 429, "Too Many Requests", {}, BytesIO(b"")),
        HTTPError("https://x", 500, "Internal Server Error", {}, BytesIO(b"")),
        ConnectionRefusedError("refused"),
        b"<html>maintenance</html>",
        b'{"erreur": "inattendu"}',
    ],
    ids=["timeout", "429", "500", "refused", "html", "unexpected-json"],
)
def test_lookup_unavailable(api, db, failure):
    api.answer = failure
    with pytest.raises(CompanyLookupUnavailable):
        lookup_siret(ASSOCIATION_SIRET)


def test_lookup_refuses_an_invalid_siret(api):
    with pytest.raises(ValueError):
        lookup_siret("73282932000075")
    assert api.calls == []


def test_legal_form_labels():
    assert legal_form_label("5710") == "Société par actions simplifiée (SAS)"
    assert legal_form_label("5499") == "Société à responsabilité limitée (SARL)"
    assert "SCOP" in legal_form_label("5458")
    assert legal_form_label("9300") == "Fondation"
    assert legal_form_label("6220") == "Groupement d'intérêt économique (GIE)"
    assert legal_form_label("1000") == "Entrepreneur individuel"
    assert legal_form_label("4110") == "Catégorie juridique 4110"
    assert legal_form_label("") == ""


class _Handler(BaseHTTPRequestHandler):
    body = b""
    delay = 0.0
    paths: list[str] = []

    def do_GET(self):
        self.paths.append(self.path)
        time.sleep(self.delay)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        try:
            self.wfile.write(self.body)
        except OSError:
            pass  # the client gave up (timeout test)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_api(settings):
    """A real HTTP server on the loopback, to exercise urllib itself (still no network)."""
    handler = type("Handler", (_Handler,), {"paths": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.COMPANY_LOOKUP_URL = f"http://127.0.0.1:{server.server_address[1]}/search"
    yield handler
    server.shutdown()
    server.server_close()


def test_lookup_over_http(local_api, communes):
    local_api.body = recorded("search_association.json")
    company = lookup_siret(ASSOCIATION_SIRET)
    assert company.name.startswith("POLE COOPERATION")
    assert local_api.paths == ["/search?q=81234567600017"]


def test_lookup_times_out_quickly(local_api, settings, db):
    local_api.body = recorded("search_association.json")
    local_api.delay = 2
    settings.COMPANY_LOOKUP_TIMEOUT = 0.2
    started = time.monotonic()
    with pytest.raises(CompanyLookupUnavailable):
        lookup_siret(ASSOCIATION_SIRET)
    assert time.monotonic() - started < 1.5


def _fragment(client, siret):
    response = client.get(reverse("company_lookup"), {"siret": siret}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # a fragment, not a page
    return html


def test_lookup_fragment(client, api, communes, referent):
    client.force_login(referent)
    assert "clé de contrôle" in _fragment(client, "73282932000075")
    assert "14 chiffres" in _fragment(client, "123")
    assert "Saisissez le SIRET" in _fragment(client, "")
    assert api.calls == []  # nothing asked for an invalid SIRET

    api.answer = recorded("search_no_result.json")
    assert "Aucune entreprise ne correspond" in _fragment(client, ASSOCIATION_SIRET)

    cache.clear()  # answers are cached a day; this test changes the directory's answer
    api.answer = TimeoutError("timed out")
    html = _fragment(client, ASSOCIATION_SIRET)
    assert UNAVAILABLE_MESSAGE.replace("'", "&#x27;") in html

    cache.clear()
    api.answer = recorded("search_association.json")
    html = _fragment(client, "812 345 676 00017")
    markup = Markup(html)
    assert "POLE COOPERATION ET TERRITOIRES DU PAYS DE RENNES" in markup.text
    assert "Association déclarée" in markup.text and "88.99B" in markup.text
    assert "vérifiez-les avant d'enregistrer" in markup.text.replace("&#x27;", "'")
    # The form's inputs come filled, SIRET included, to be swapped into the form by htmx.
    assert markup.value_of("siret") == ASSOCIATION_SIRET
    assert markup.value_of("name") == "POLE COOPERATION ET TERRITOIRES DU PAYS DE RENNES"
    assert markup.value_of("legal_form") == "Association déclarée"
    assert markup.value_of("postal_code") == "35000"
    assert markup.value_of("seat_commune") == "35238"
    assert all(c.get("hx-swap-oob") == "true" for c in markup.controls)
    assert {c["id"] for c in markup.controls} >= {"id_siret", "id_name", "id_seat_commune"}


def test_lookup_fragment_leaves_a_locked_siret_alone(client, api, ptce, referent, communes):
    client.force_login(referent)
    api.answer = recorded("search_association.json")
    html = _fragment_for(client, ASSOCIATION_SIRET, ptce=ptce.pk)
    assert Markup(html).value_of("siret") == ASSOCIATION_SIRET
    f.CandidatureFactory(ptce=ptce, state="submitted", submitted_at=timezone.now())
    html = _fragment_for(client, ASSOCIATION_SIRET, ptce=ptce.pk)
    markup = Markup(html)
    assert "id_siret" not in {c["id"] for c in markup.controls}
    assert markup.value_of("name") == "POLE COOPERATION ET TERRITOIRES DU PAYS DE RENNES"
    other = f.PtceFactory()
    response = client.get(reverse("company_lookup"), {"siret": ASSOCIATION_SIRET, "ptce": other.pk})
    assert response.status_code == 404


def _fragment_for(client, siret, **params):
    response = client.get(
        reverse("company_lookup"), {"siret": siret, **params}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    return response.content.decode()


def test_lookup_prefills_the_create_form_without_javascript(client, api, communes, referent):
    client.force_login(referent)
    api.answer = recorded("search_association.json")
    response = client.get(reverse("ptce_create"), {"siret": ASSOCIATION_SIRET, "lookup": "1"})
    markup = Markup(response.content.decode())
    assert markup.value_of("name") == "POLE COOPERATION ET TERRITOIRES DU PAYS DE RENNES"
    assert markup.value_of("legal_form") == "Association déclarée"
    assert markup.value_of("naf_code") == "88.99B"
    assert markup.value_of("address") == "12 RUE DE LA COOPERATION"
    assert markup.value_of("postal_code") == "35000"
    assert markup.value_of("seat_commune") == "35238"
    assert markup.value_of("siret") == ASSOCIATION_SIRET
    assert "vérifiez-les avant d'enregistrer" in markup.text.replace("&#x27;", "'")
    assert not response.context["form"].is_bound  # no error shown before saving


def test_lookup_fallback_keeps_the_form_usable(client, api, ptce, referent):
    client.force_login(referent)
    api.answer = TimeoutError("timed out")
    url = reverse("ptce_edit", args=[ptce.pk])
    response = client.get(url, {"siret": ASSOCIATION_SIRET, "prefill": "1"})
    assert response.status_code == 200
    markup = Markup(response.content.decode())
    assert UNAVAILABLE_MESSAGE in markup.text
    assert markup.value_of("name") == "Pôle coopération Rennes"  # the PTCE's own values


def test_prefill_on_the_edit_form(client, api, ptce, referent, communes):
    client.force_login(referent)
    api.answer = recorded("search_scic_secondary_establishment.json")
    url = reverse("ptce_edit", args=[ptce.pk])
    response = client.get(url, {"siret": SCIC_BRANCH_SIRET, "prefill": "1"})
    markup = Markup(response.content.decode())
    assert markup.value_of("name") == "ATELIERS PARTAGES DU CENTRE BRETAGNE"
    assert markup.value_of("seat_commune") == "22136"
    assert re.search(r"35238 56178|56178 35238", response.content.decode())


def test_recorded_responses_are_valid_json():
    for path in RECORDED.glob("*.json"):
        data = json.loads(path.read_text())
        assert isinstance(data["results"], list), path.name


def test_refused_update_leaves_the_instance_as_saved(ptce, referent):
    with pytest.raises(ValidationError) as error:
        domain.update_ptce(ptce, referent, name="Nouveau nom", year_created=1800)
    assert "year_created" in error.value.message_dict
    assert ptce.name == "Pôle coopération Rennes"
    with pytest.raises(ValidationError) as error:
        domain.update_ptce(ptce, referent, seat_commune="99999")
    assert "seat_commune" in error.value.message_dict
    ptce.refresh_from_db()
    assert ptce.seat_commune_id == "35238"


def test_company_lookup_is_cached(monkeypatch):
    from candidatures import company_lookup

    calls = []
    body = (RECORDED / "search_association.json").read_bytes()

    def fake_get(url, timeout):
        calls.append(url)
        return body

    monkeypatch.setattr(company_lookup, "http_get", fake_get)
    first = company_lookup.lookup_siret(ASSOCIATION_SIRET)
    second = company_lookup.lookup_siret(ASSOCIATION_SIRET)
    assert first == second
    assert len(calls) == 1


# --- SIRET locked once a candidature is submitted (issue 12, defect 2) -----------------------


def test_siret_cannot_change_once_a_candidature_is_submitted(client):
    from django.core.exceptions import ValidationError

    from candidatures import ptce as domain
    from candidatures import workflow
    from candidatures.models import CandidatureState

    from .helpers import submittable

    candidature, user = submittable()
    ptce = candidature.ptce
    siret = ptce.siret
    domain.update_ptce(ptce, user, name="Renommé avant dépôt")  # allowed while a draft
    workflow.transition(candidature, CandidatureState.SUBMITTED, user)
    with pytest.raises(ValidationError) as refusal:
        domain.update_ptce(ptce, user, siret="35600000000048")
    assert "ne peut plus être modifié" in str(refusal.value)
    ptce.refresh_from_db()
    assert ptce.siret == siret
    # The form shows it locked and a forged POST changes nothing.
    client.force_login(user)
    page = client.get(reverse("ptce_edit", args=[ptce.pk])).content.decode()
    assert "le SIRET ne peut plus être modifié" in page
    form = _create_data(
        siret="35600000000048", seat_commune="75056", postal_code="75001",
        territory_communes="75056",
    )  # fmt: skip
    response = client.post(reverse("ptce_edit", args=[ptce.pk]), form)
    assert response.status_code == 302  # the rest is saved
    assert Ptce.objects.get(pk=ptce.pk).name == "PTCE du Val"
    ptce.refresh_from_db()
    assert ptce.siret == siret


def test_staff_change_of_a_locked_siret_is_logged():
    from ami.audit import acting, history_of
    from candidatures import workflow
    from candidatures.models import CandidatureState

    from .helpers import submittable

    candidature, user = submittable()
    workflow.transition(candidature, CandidatureState.SUBMITTED, user)
    staff = f.UserFactory(is_staff=True)
    ptce = candidature.ptce
    with acting(staff):
        ptce.siret = "35600000000048"
        ptce.save()
    change = history_of(ptce).changes[0]
    assert change.actor == staff
    assert [fc.name for fc in change.fields] == ["siret"]
