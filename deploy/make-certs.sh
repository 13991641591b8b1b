#!/usr/bin/env bash
# Demo PKI for citwatch (DESIGN §9): a fleet CA, the dispatch-server certificate and one client
# certificate per vehicle (CN = vehicle id, SAN DNS = vehicle id), all with openssl, EC P-256.
#
#   deploy/make-certs.sh OUTDIR [VEHICLE_ID...]
#   deploy/make-certs.sh --expired CIT-0666 --foreign CIT-0777 OUTDIR CIT-0001 CIT-0002
#
# Writes, in OUTDIR (created if missing; an existing CA and server cert are reused, so vehicles can
# be added later):
#   ca.crt ca.key              fleet CA: signs the server and every vehicle certificate
#   server.crt server.key      dispatch-server, SAN DNS:localhost, IP:127.0.0.1 (+ --server-name)
#   <id>.crt <id>.key          one per VEHICLE_ID, valid --days days (default 825)
#   <id>.crt <id>.key          for --expired ID: signed by the fleet CA, expired in 2020 (tests)
#   foreign-ca.crt/.key        for --foreign ID: a second, unrelated CA ...
#   <id>.crt <id>.key          ... that signs ID's certificate (tests: "unknown CA" must fail)
# Options:
#   --expired ID       make an expired certificate for vehicle ID
#   --foreign ID       make a certificate for vehicle ID signed by a foreign CA
#   --server-name DNS  extra SAN DNS name for the server certificate (repeatable)
#   --days N           validity of new vehicle and server certificates
# Keys are written 0600. This is a demo CA: production fleets use their own PKI.
set -euo pipefail

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

days=825
expired=()
foreign=()
server_names=()
positional=()
while (($#)); do
  case "$1" in
    --expired) expired+=("$2"); shift 2 ;;
    --foreign) foreign+=("$2"); shift 2 ;;
    --server-name) server_names+=("$2"); shift 2 ;;
    --days) days="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; positional+=("$@"); break ;;
    -*) echo "make-certs: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) positional+=("$1"); shift ;;
  esac
done
if ((${#positional[@]} < 1)); then usage >&2; exit 2; fi
out="${positional[0]}"
vehicles=("${positional[@]:1}")

mkdir -p "$out"
cd "$out"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check_id() {
  if [[ ! "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]]; then
    echo "make-certs: vehicle id '$1' must match [A-Za-z0-9][A-Za-z0-9._-]{0,62}" >&2
    exit 2
  fi
}

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

make_ca() {  # make_ca NAME SUBJECT
  [[ -f "$1.crt" && -f "$1.key" ]] && return 0
  newkey "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.crt"
}

# sign NAME CA CN SAN EXTKEYUSAGE [START END]: key NAME.key, certificate NAME.crt signed by CA.
sign() {
  local name=$1 ca=$2 cn=$3 san=$4 eku=$5
  newkey "$name.key"
  openssl req -new -key "$name.key" -subj "/O=citwatch demo/CN=$cn" -out "$tmp/$name.csr"
  cat >"$tmp/$name.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$eku
subjectAltName=$san
EXT
  if (($# >= 6)); then
    # openssl x509 cannot back-date; `openssl ca` can set explicit start and end dates.
    mkdir -p "$tmp/ca"
    : >"$tmp/ca/index.txt"
    cat >"$tmp/ca.cnf" <<CNF
[ca]
default_ca = demo
[demo]
database = $tmp/ca/index.txt
new_certs_dir = $tmp/ca
serial = $tmp/ca/serial
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
organizationName = optional
CNF
    openssl rand -hex 16 >"$tmp/ca/serial"
    openssl ca -batch -config "$tmp/ca.cnf" -cert "$ca.crt" -keyfile "$ca.key" \
      -startdate "$6" -enddate "$7" -extfile "$tmp/$name.ext" -notext \
      -in "$tmp/$name.csr" -out "$name.crt" 2>"$tmp/ca.log" || { cat "$tmp/ca.log" >&2; exit 1; }
  else
    openssl x509 -req -in "$tmp/$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial \
      -days "$days" -sha256 -extfile "$tmp/$name.ext" -out "$name.crt" 2>/dev/null
  fi
  chmod 0644 "$name.crt"
}

make_ca ca "/O=citwatch demo/CN=citwatch demo fleet CA"
chmod 0644 ca.crt

if [[ ! -f server.crt || ! -f server.key ]]; then
  san="DNS:localhost,IP:127.0.0.1"
  for n in "${server_names[@]}"; do san+=",DNS:$n"; done
  sign server ca dispatch-server "$san" serverAuth
fi

for id in "${vehicles[@]}"; do
  check_id "$id"
  sign "$id" ca "$id" "DNS:$id" clientAuth
done
for id in "${expired[@]}"; do
  check_id "$id"
  sign "$id" ca "$id" "DNS:$id" clientAuth 20200101000000Z 20200102000000Z
done
if ((${#foreign[@]})); then
  make_ca foreign-ca "/O=not citwatch/CN=foreign CA"
  chmod 0644 foreign-ca.crt
  for id in "${foreign[@]}"; do
    check_id "$id"
    sign "$id" foreign-ca "$id" "DNS:$id" clientAuth
  done
fi
echo "make-certs: wrote $(ls -1 *.crt | wc -l) certificates to $(pwd)"
