"""factory_boy factories shared by the whole suite."""

import time
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import factory
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
from ami.models import Call, Criterion, Department, DocumentType, Phase, Region
from candidatures import questionnaire
from candidatures.models import Candidature, Ptce, PtceMembership

PASSWORD = "mot-de-passe-de-test-1"


def region(code: str = "11") -> Region:
    """Regions are loaded by a data migration; fall back to creating one in bare test DBs."""
    obj, _ = Region.objects.get_or_create(code=code, defaults={"name": f"Région {code}"})
    return obj


def give_totp(user) -> User:
    """An active authenticator app (TOTP), made with allauth's own function, as if the user had
    scanned the QR code: staff and cell members need one before any review screen."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, generate_totp_secret())
    return user


def totp_secret(user) -> str:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import decrypt

    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    return decrypt(authenticator.data["secret"])


def renew_totp_secret(user) -> None:
    """A new secret for the user's authenticator app (tests only: the browser tests log the same
    user in more often than one 30-second code allows)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import generate_totp_secret
    from allauth.mfa.utils import encrypt

    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    authenticator.data = {**authenticator.data, "secret": encrypt(generate_totp_secret())}
    authenticator.save(update_fields=["data"])


def totp_code(secret: str, counter: int | None = None) -> str:
    """The code the user's app shows now (or for another 30-second ``counter``), computed with
    allauth's own TOTP functions."""
    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    if counter is None:
        counter = int(time.time()) // app_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter))


def department(code: str = "75", region_code: str = "11") -> Department:
    obj, _ = Department.objects.get_or_create(
        code=code, defaults={"name": f"Département {code}", "region": region(region_code)}
    )
    return obj


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"personne{n}@example.org")
    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        """Users are created with a verified primary email, as allauth expects to log them in."""
        if not create:
            return
        self.save()
        if extracted is not False:
            from allauth.account.models import EmailAddress

            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )

    @factory.post_generation
    def totp(self, create, extracted, **kwargs):
        """Staff get an authenticator app unless ``totp=False`` (accounts.mfa)."""
        if create and (extracted or (extracted is None and self.is_staff)):
            give_totp(self)


@contextmanager
def configuring(call):
    """Set up a call's questionnaire, grid or documents as staff do before opening it: the
    database refuses any change once the call is open, so the call is in draft meanwhile."""
    phase = Call.objects.filter(pk=call.pk).values_list("phase", flat=True).get()
    if phase == Phase.DRAFT:
        yield
        return
    Call.objects.filter(pk=call.pk).update(phase=Phase.DRAFT)
    try:
        yield
    finally:
        Call.objects.filter(pk=call.pk).update(phase=phase)


class CallFactory(factory.django.DjangoModelFactory):
    """A call with the AMI PTCE's questionnaire (``questionnaire=[…]`` for another one,
    ``questionnaire=False`` for none)."""

    class Meta:
        model = Call
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"AMI PTCE test {n}")
    slug = factory.Sequence(lambda n: f"ami-ptce-test-{n}")
    year = factory.LazyFunction(lambda: timezone.now().year)
    phase = Phase.OPEN
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=10))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=20))
    regional_review_deadline = factory.LazyFunction(lambda: timezone.now() + timedelta(days=60))
    national_review_deadline = factory.LazyFunction(lambda: timezone.now() + timedelta(days=90))
    envelope = Decimal("500000")
    min_amount = Decimal("30000")
    max_amount = Decimal("80000")
    priority_rural = True
    priority_qpv = True

    @factory.post_generation
    def questionnaire(call, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        with configuring(call):
            questionnaire.build(call, extracted or questionnaire.AMI_PTCE)


class ConfigurationFactory(factory.django.DjangoModelFactory):
    """A piece of a call's configuration, created while the call is (briefly) in draft."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with configuring(kwargs["call"]):
            return super()._create(model_class, *args, **kwargs)


class CriterionFactory(ConfigurationFactory):
    class Meta:
        model = Criterion

    call = factory.SubFactory(CallFactory)
    label = factory.Sequence(lambda n: f"Critère {n}")
    weight = Decimal("1")
    order = factory.Sequence(int)


class DocumentTypeFactory(ConfigurationFactory):
    class Meta:
        model = DocumentType

    call = factory.SubFactory(CallFactory)
    label = factory.Sequence(lambda n: f"Pièce {n}")
    allowed_formats = factory.LazyFunction(lambda: ["pdf"])


class PtceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ptce

    name = factory.Sequence(lambda n: f"PTCE {n}")
    region = factory.LazyFunction(region)


class PtceMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PtceMembership

    ptce = factory.SubFactory(PtceFactory)
    user = factory.SubFactory(UserFactory)
    is_referent = True


class CandidatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Candidature

    ptce = factory.SubFactory(PtceFactory)
    call = factory.SubFactory(CallFactory)
    region = factory.LazyAttribute(lambda o: o.ptce.region)
    requested_amount = Decimal("50000")


class RegionalCellFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegionalCell
        django_get_or_create = ["call", "region"]

    call = factory.SubFactory(CallFactory)
    region = factory.LazyFunction(region)


class RegionalMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegionalCellMembership
        skip_postgeneration_save = True

    cell = factory.SubFactory(RegionalCellFactory)
    user = factory.SubFactory(UserFactory)
    role = RegionalRole.EVALUATOR

    @factory.post_generation
    def totp(self, create, extracted, **kwargs):
        """Cell members get an authenticator app unless ``totp=False`` (accounts.mfa)."""
        if create and extracted is not False:
            give_totp(self.user)


class NationalCellFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NationalCell
        django_get_or_create = ["call"]

    call = factory.SubFactory(CallFactory)


class NationalMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NationalCellMembership
        skip_postgeneration_save = True

    cell = factory.SubFactory(NationalCellFactory)
    user = factory.SubFactory(UserFactory)
    role = NationalRole.MEMBER

    @factory.post_generation
    def totp(self, create, extracted, **kwargs):
        """Cell members get an authenticator app unless ``totp=False`` (accounts.mfa)."""
        if create and extracted is not False:
            give_totp(self.user)
