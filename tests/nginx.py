"""nginx in front of local gunicorn processes, with the repository's deploy/nginx.conf: used by
the deployment tests, the two-web-node test and the deadline-rush load test (``make load``), so
that each runs the very site configuration production runs."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def find_binary() -> str | None:
    """Debian's nginx (``apt-get install nginx``), on the PATH or in /usr/sbin."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def main_conf(
    home: Path, upstream: str | list[str], port: int, *, worker_connections: int = 64
) -> Path:
    """A main configuration around deploy/nginx.conf, as the official image has it (the file
    inside ``http``), with the upstream (one ``host:port`` or several, balanced by nginx) and
    the error pages pointed at local ones. nginx runs in the foreground, one process, writing
    only under ``home``."""
    servers = [upstream] if isinstance(upstream, str) else upstream
    assert "server web:8000;" in NGINX_CONF.read_text()
    site = NGINX_CONF.read_text().replace(
        "server web:8000;", " ".join(f"server {server};" for server in servers)
    )
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    site = site.replace("root /usr/share/nginx/ami;", f"root {home / 'html'};")
    (home / "html").mkdir(parents=True)
    shutil.copytree(ROOT / "deploy" / "errors", home / "html" / "erreurs")
    (home / "site.conf").write_text(site)
    main = home / "nginx.conf"
    main.write_text(
        f"""
daemon off;
master_process off;
worker_processes 1;
pid {home / "nginx.pid"};
error_log {home / "error.log"} warn;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    client_body_temp_path {home / "body"};
    proxy_temp_path {home / "proxy"};
    fastcgi_temp_path {home / "fastcgi"};
    uwsgi_temp_path {home / "uwsgi"};
    scgi_temp_path {home / "scgi"};
    include {home / "site.conf"};
}}
"""
    )
    return main
