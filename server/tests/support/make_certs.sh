#!/usr/bin/env bash
# Makes the certificates the TLS mail tests need, in the folder given:
#   ca.pem, ca.key        a private certificate authority ("Beckon Test CA")
#   server.pem, server.key a certificate for 127.0.0.1 and localhost, issued by that CA
#   other-ca.pem          another authority, which issued nothing the server shows
set -euo pipefail
dir=${1:?usage: make_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
quiet() { "$@" >/dev/null 2>&1; }
quiet openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj "/CN=Beckon Test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout ca.key -out ca.pem
quiet openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > server.ext
quiet openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3 -extfile server.ext -out server.pem
quiet openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj "/CN=Some Other CA" -keyout other-ca.key -out other-ca.pem
rm -f server.csr server.ext ca.srl other-ca.key
