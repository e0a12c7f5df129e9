"""Encrypt the second-factor secrets stored in the clear before MFA_ENCRYPTION_KEY existed
(accounts.mfa). Going back leaves them encrypted: nothing writes a secret in the clear."""

from django.db import migrations


def encrypt_existing_secrets(apps, schema_editor):
    from accounts.mfa import encrypt_clear_secrets

    Authenticator = apps.get_model("mfa", "Authenticator")
    encrypt_clear_secrets(Authenticator.objects.filter(type__in=["totp", "recovery_codes"]))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_accountdeletion"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [migrations.RunPython(encrypt_existing_secrets, migrations.RunPython.noop)]
