"""A certificate authority and a broker certificate for the local stack, made with the openssl CLI.

``faultline stack up --tls`` creates them once under ``<data dir>/stack/tls``
(the CA key stays there, mode 600; the server key is group-readable for the broker): ``ca.pem`` is what clients verify the
broker with (``FAULTLINE_MQTT_CA_FILE``), ``server.pem``/``server.key`` are
the broker's, valid for ``localhost`` and ``127.0.0.1``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

DAYS = 825  # what today's TLS clients accept for a server certificate


class CertError(RuntimeError):
    """A certificate could not be made, worded for the operator."""


@dataclass(frozen=True, slots=True)
class BrokerCerts:
    ca_file: Path
    cert_file: Path
    key_file: Path


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise CertError(f"openssl {args[0]} failed: {done.stderr.strip()[-300:]}")


def ensure(folder: Path, hosts: tuple[str, ...] = ("localhost", "127.0.0.1"), name: str = "Faultline local CA"
           ) -> BrokerCerts:
    """The CA and broker certificate in `folder`, created when missing."""
    folder = Path(folder)
    certs = BrokerCerts(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    if all(p.exists() for p in (certs.ca_file, certs.cert_file, certs.key_file)):
        return certs
    if not folder.exists():  # an existing folder keeps its owner, group and mode (compose's is setgid)
        folder.mkdir(parents=True)
        os.chmod(folder, 0o750)
    san = ",".join(f"IP:{h}" if h.replace(".", "").isdigit() else f"DNS:{h}" for h in hosts)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", str(DAYS), "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
             "-subj", f"/CN={hosts[0]}", cwd=folder)
    (folder / "server.ext").write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n"
                                       "basicConstraints=CA:FALSE\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.pem", "-days", str(DAYS), "-extfile", "server.ext", cwd=folder)
    os.chmod(folder / "ca.key", 0o600)
    os.chmod(folder / "server.key", 0o640)  # the broker reads it through the folder's group
    return certs
