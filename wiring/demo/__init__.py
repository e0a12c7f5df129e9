"""Demo and bench data: the one place that seeds every app (DESIGN §6). ``seed`` builds the demo
editions (``manage.py seed_demo``), ``candidatures`` and ``evaluation`` each app's part of them,
``bench`` the national-scale bench call (``manage.py seed_bench``)."""

DEMO_DOMAIN = "demo.ami-ptce.fr"
