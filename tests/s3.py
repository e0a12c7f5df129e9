"""A real S3-compatible server for the storage tests: moto's server mode (``moto[server]``, a
development dependency) in a thread of the test process, on 127.0.0.1 and a free port. Child
processes (gunicorn, Celery) reach it too. Without moto the tests skip, saying how to get it;
under ``CI=true`` they fail instead."""

import os
import uuid
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from ami.storage import s3_storage

# moto accepts any keys; these never leave the machine.
ACCESS_KEY = "cle-de-test"
SECRET_KEY = "secret-de-test"
REGION = "eu-west-3"


def moto_server_class():
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        message = (
            "moto absent : installez les dépendances de développement (make install, qui "
            "apporte moto[server]) pour lancer le serveur S3 local"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return ThreadedMotoServer


@contextmanager
def s3_server():
    """Yields the endpoint URL of a running moto server."""
    server = moto_server_class()(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def client_for(endpoint_url):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def new_bucket(endpoint_url) -> SimpleNamespace:
    """A fresh, empty bucket; ``storage`` is its ``STORAGES`` entry (as the settings build it
    from PRIVATE_STORAGE=s3), ``env`` the variables that give it to a child process."""
    client = client_for(endpoint_url)
    name = f"ami-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})

    def keys() -> list[str]:
        listed = client.list_objects_v2(Bucket=name)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def body(key) -> bytes:
        return client.get_object(Bucket=name, Key=key)["Body"].read()

    return SimpleNamespace(
        name=name,
        client=client,
        endpoint_url=endpoint_url,
        keys=keys,
        body=body,
        storage=s3_storage(
            bucket_name=name,
            endpoint_url=endpoint_url,
            region_name=REGION,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            addressing_style="path",
        ),
        env={
            "PRIVATE_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": name,
            "AWS_S3_ENDPOINT_URL": endpoint_url,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_S3_ADDRESSING_STYLE": "path",
        },
    )
