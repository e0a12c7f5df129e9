"""Selection assistant of the national cell (CNA): which candidatures to fund, and how much.

Pure solver, no Django model and no database: ``propose(candidates, rules)`` takes plain
``Candidate`` and ``Rules`` dataclasses and returns a ``Proposal`` whose every line carries the
French sentences the CNA needs to defend it. It can be called from views, management commands,
tests and benchmarks alike.

Model (a mixed-integer linear programme solved by HiGHS through ``scipy.optimize.milp``):

* one binary variable ``x_i`` per candidature that may be selected (eligible, not forced out);
* money is counted in integer cents. Candidate *i* may receive an amount between
  ``low_i = max(min_amount, funding_floor × cap_i)`` (rounded up to the cent) and
  ``cap_i = min(requested_i, max_amount)``; it is eligible only if ``low_i ≤ cap_i``, that is
  ``cap_i ≥ min_amount``;
* ``Σ low_i·x_i ≤ envelope``, at most ``max_per_region`` laureates per region,
  ``Σ (rural_i − share)·x_i ≥ 0`` for the rural and QPV minimum shares (scaled to integer
  coefficients), forced-in ``x_i = 1``;
* objective: maximise ``Σ (score_i + bonuses_i)·x_i + ε·T`` where ``T ≤ envelope`` and
  ``T ≤ Σ cap_i·x_i`` is the money that can be granted and ``ε·envelope < 0.001``: granting more
  money only breaks ties and never outweighs a 0.01-point difference. With ``funding_floor = 1``
  the amounts are fixed and ``T`` is simply ``Σ cap_i·x_i`` (a pure knapsack).

The per-candidate amount variables ``low_i·x_i ≤ a_i ≤ cap_i·x_i, Σ a_i ≤ envelope`` are projected
out: for a given selection such amounts exist exactly when ``Σ low_i ≤ envelope`` and their best
total is ``min(envelope, Σ cap_i)``, which is what ``T`` expresses. This halves the size of the
model. The amounts themselves are then computed exactly, in integers: everybody receives
``cap_i`` when the envelope allows it, otherwise every laureate is reduced to the same share of
``cap_i`` (never below ``low_i``), the few cents left by rounding going to the best ranked.

Optimality is proven (HiGHS with a zero gap) unless the time limit comes first; then the best
list found is returned with a warning and a proven bound on what a better list could gain.
HiGHS alone proves large knapsacks optimal very slowly, so models of more than DIRECT_SIZE
candidatures are first reduced with the LP relaxation (reduced-cost fixing on a growing core,
see ``_optimize``), which is exact.

Floats only ever choose the selection. Every rule is then checked again in exact arithmetic;
a selection broken by a float artefact is re-solved with a tightened envelope, and a proposal
that would break a rule is never returned.
"""

from .common import Candidate, Line, Proposal, Rules, _euros
from .solve import propose

__all__ = ["Candidate", "Line", "Proposal", "Rules", "_euros", "propose"]
