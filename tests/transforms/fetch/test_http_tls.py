"""HTTPS with the address pinned: the socket goes to the vetted address while TLS still checks
the certificate against the host name (SNI), against a real local TLS server."""

from __future__ import annotations

import datetime
import ssl
from dataclasses import replace

import pytest

from tests.httpserver import serving
from transforms.fetch import http as h
from transforms.fetch.http import FetchError, HttpClient, HttpConfig

pytestmark = pytest.mark.timeout(60)

CONFIG = HttpConfig(
    allow_private_networks=False,
    allowed_networks=("127.0.0.1/32",),
    connect_timeout=2.0,
    read_timeout=2.0,
    total_timeout=5.0,
    max_retries=0,
)


def _issue(tmp_path):
    """A throwaway CA and a certificate for news.test signed by it (files in tmp_path)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("wirestream test CA"))
        .issuer_name(name("wirestream test CA"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("news.test"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("news.test")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    chain = tmp_path / "leaf.pem"
    chain.write_bytes(
        leaf.public_bytes(pem)
        + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(chain)
    return str(ca_file), server_context


@pytest.fixture()
def tls_server(tmp_path):
    ca_file, context = _issue(tmp_path)
    with serving(tls=context) as server:
        yield server, ca_file


def loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def test_https_to_the_vetted_address_with_certificate_checked(tls_server, connects):
    server, ca_file = tls_server
    client = HttpClient(replace(CONFIG, ca_file=ca_file), resolver=loopback)
    result = client.get(f"https://news.test:{server.port}/echo")
    assert result.status == 200
    assert f"Host: news.test:{server.port}" in result.text
    assert {address for address, _ in connects} == {"127.0.0.1"}


def test_https_certificate_for_another_name_is_refused(tls_server):
    server, ca_file = tls_server
    client = HttpClient(replace(CONFIG, ca_file=ca_file, respect_robots=False), resolver=loopback)
    with pytest.raises(FetchError) as info:
        client.get(f"https://other.test:{server.port}/page")
    assert info.value.reason == h.CONNECT_ERROR and "TLS" in info.value.detail


def test_https_unknown_authority_is_refused(tls_server):
    server, _ = tls_server
    client = HttpClient(replace(CONFIG, respect_robots=False), resolver=loopback)
    with pytest.raises(FetchError) as info:
        client.get(f"https://news.test:{server.port}/page")
    assert info.value.reason == h.CONNECT_ERROR


def test_https_through_a_proxy_tunnel_keeps_the_certificate_check(tls_server, connects):
    server, ca_file = tls_server
    with serving() as proxy:
        client = HttpClient(
            replace(CONFIG, ca_file=ca_file, allow_private_networks=False),
            resolver=lambda host, port: ["93.184.216.34"],  # the guard vets a public address
            proxies={"https": proxy.base},
        )
        result = client.get(f"https://news.test:{server.port}/echo")
        assert result.status == 200 and f"Host: news.test:{server.port}" in result.text
        assert [hit.path for hit in proxy.hits] == [f"CONNECT news.test:{server.port}"]
        # the only connects: to the proxy, and the proxy's own to the TLS server
        assert {address for address, _ in connects} == {"127.0.0.1"}
        # a name the certificate does not carry is still refused through the tunnel
        with pytest.raises(FetchError) as info:
            client.get(f"https://other.test:{server.port}/page")
        assert info.value.reason == h.CONNECT_ERROR
