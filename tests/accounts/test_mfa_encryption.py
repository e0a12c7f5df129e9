"""Second-factor secrets encrypted at rest (accounts.mfa): what the database holds, logging in
with a code, the data migration of secrets stored in the clear, the deployment check."""

import importlib

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.apps import apps
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from accounts import mfa
from accounts.checks import mfa_encryption_key_check
from tests import factories as f

pytestmark = pytest.mark.django_db

migration = importlib.import_module("accounts.migrations.0007_encrypt_mfa_secrets")


def test_the_database_holds_the_totp_secret_encrypted():
    user = f.UserFactory()
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    stored = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP).data["secret"]
    assert stored != secret
    assert secret not in stored
    assert stored.startswith(mfa.ENCRYPTED_PREFIX)
    assert mfa.decrypt_secret(stored) == secret
    seed = RecoveryCodes.activate(user).instance.data["seed"]
    assert mfa.is_encrypted(seed)


def test_login_with_a_totp_code_still_works(client):
    user = f.RegionalMembershipFactory().user  # cell members get an authenticator app
    client.post(reverse("account_login"), {"login": user.email, "password": f.PASSWORD})
    response = client.post(reverse("mfa_authenticate"), {"code": f.totp_code(f.totp_secret(user))})
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(user.pk)


def test_a_secret_in_the_clear_is_refused():
    with pytest.raises(ValueError, match="in the clear"):
        mfa.decrypt_secret("JBSWY3DPEHPK3PXP")


def test_rotation_first_key_encrypts_every_key_decrypts(settings):
    from cryptography.fernet import Fernet

    old = settings.MFA_ENCRYPTION_KEY
    token = mfa.encrypt_secret("JBSWY3DPEHPK3PXP")
    settings.MFA_ENCRYPTION_KEY = f"{Fernet.generate_key().decode()},{old}"
    assert mfa.decrypt_secret(token) == "JBSWY3DPEHPK3PXP"


def test_the_migration_encrypts_existing_clear_secrets():
    user = f.UserFactory()
    secret = generate_totp_secret()
    totp = Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": secret}
    )
    recovery = Authenticator.objects.create(
        user=user,
        type=Authenticator.Type.RECOVERY_CODES,
        data={"seed": "ab" * 40, "used_mask": 0, "migrated_codes": ["12345678"]},
    )

    migration.encrypt_existing_secrets(apps, None)
    migration.encrypt_existing_secrets(apps, None)  # idempotent: not encrypted twice

    totp.refresh_from_db()
    recovery.refresh_from_db()
    assert totp.data["secret"] != secret
    assert mfa.decrypt_secret(totp.data["secret"]) == secret
    assert totp.wrap().validate_code(f.totp_code(secret))
    assert mfa.decrypt_secret(recovery.data["seed"]) == "ab" * 40
    assert recovery.data["used_mask"] == 0
    assert recovery.wrap().get_unused_codes() == ["12345678"]


def test_deploy_check_requires_a_valid_key(settings):
    assert mfa_encryption_key_check(None) == []
    settings.MFA_ENCRYPTION_KEY = None
    assert [error.id for error in mfa_encryption_key_check(None)] == ["accounts.E001"]
    settings.MFA_ENCRYPTION_KEY = "not-a-fernet-key"
    assert [error.id for error in mfa_encryption_key_check(None)] == ["accounts.E002"]
