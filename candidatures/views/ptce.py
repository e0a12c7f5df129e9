"""PTCE profile, members, team and invitations, company lookup (being written)."""


def _pending(*args, **kwargs):
    raise NotImplementedError


ptce_create = company_lookup = ptce_detail = ptce_edit = ptce_members = _pending
ptce_member_delete = ptce_team = ptce_team_remove = invitation_accept = _pending
