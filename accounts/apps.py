from django.apps import AppConfig


class AccountsConfig(AppConfig):
    verbose_name = "comptes et rôles"
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from ami.calls import register_phase_mover

        from . import checks  # noqa: F401  (registers the deployment checks)
        from .permissions import may_move_call_phase

        register_phase_mover(may_move_call_phase)

        # Staff acting as a user: every session logged (accounts.impersonation).
        from .impersonation import connect_signals

        connect_signals()

        # Cell invitations are accepted on login or email confirmation (accounts.invitations).
        from .invitations import connect_signals as connect_invitation_signals

        connect_invitation_signals()

        # The next edition gets the cells and the members staff keep (ami.calls.clone_call).
        from ami.calls import register_clone_part

        from .cells import CLONE_PART

        register_clone_part(CLONE_PART)
