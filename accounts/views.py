from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .navigation import roles_of


@login_required
def dashboard(request):
    return render(request, "accounts/dashboard.html", roles_of(request.user))
