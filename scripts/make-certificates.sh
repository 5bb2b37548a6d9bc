#!/usr/bin/env bash
# Makes the certificates vmmd's TLS listener and vmctl --connect use:
#
#   scripts/make-certificates.sh DIR NAME[=IP[,IP...]] ...
#
# DIR/ca.crt and DIR/ca.key: a certificate authority, made on the first run and reused
# after (keep ca.key safe: whoever has it can make certificates every vmmd accepts).
# For each NAME: DIR/NAME.key and DIR/NAME.crt, signed by that CA, valid 825 days, for
# both server and client use (a host's vmmd serves with it and calls its peers with it),
# naming DNS:NAME and IP:IP for each IP, which clients check against the address they
# dial. A NAME given again gets a new key and certificate. Keys are EC P-256, mode 0600.
set -euo pipefail

usage() {
    echo "usage: $0 DIR NAME[=IP[,IP...]] ..." >&2
    echo "  e.g. $0 /etc/vmm/tls host-a=10.0.0.1 host-b=10.0.0.2 admin" >&2
    exit 2
}
(($# >= 2)) || usage
dir=$1
shift
command -v openssl >/dev/null || { echo "make-certificates: openssl is not installed (apt-get install openssl)" >&2; exit 1; }

# Check every argument before writing anything.
for spec in "$@"; do
    name=${spec%%=*}
    [[ $name =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || {
        echo "make-certificates: '$name' is not a host name (letters, digits, '.', '-')" >&2; exit 2; }
    if [[ $spec == *=* ]]; then
        IFS=, read -ra ips <<<"${spec#*=}"
        ((${#ips[@]})) || { echo "make-certificates: $name= names no IP address" >&2; exit 2; }
        for ip in "${ips[@]}"; do
            [[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || ($ip =~ ^[0-9A-Fa-f:.]+$ && $ip == *:*) ]] || {
                echo "make-certificates: '$ip' (for $name) is not an IPv4 or IPv6 address" >&2; exit 2; }
        done
    fi
done

umask 077
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -f $dir/ca.crt && -f $dir/ca.key ]]; then
    echo "make-certificates: using the CA in $dir/ca.crt" >&2
elif [[ -e $dir/ca.crt || -e $dir/ca.key ]]; then
    echo "make-certificates: $dir has only one of ca.crt and ca.key; move it away to make a new CA" >&2
    exit 1
else
    openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key"
    openssl req -x509 -new -sha256 -key "$work/ca.key" -days 3650 -subj "/CN=vmm CA $(hostname)" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" \
        -out "$work/ca.crt"
    mv "$work/ca.key" "$dir/ca.key"
    chmod 644 "$work/ca.crt"
    mv "$work/ca.crt" "$dir/ca.crt"
    echo "make-certificates: made the CA $dir/ca.crt (key $dir/ca.key)" >&2
fi

for spec in "$@"; do
    name=${spec%%=*}
    san="DNS:$name"
    if [[ $spec == *=* ]]; then
        IFS=, read -ra ips <<<"${spec#*=}"
        for ip in "${ips[@]}"; do san+=",IP:$ip"; done
    fi
    openssl ecparam -name prime256v1 -genkey -noout -out "$work/$name.key"
    openssl req -new -sha256 -key "$work/$name.key" -subj "/CN=$name" -out "$work/$name.csr"
    cat >"$work/$name.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EXT
    openssl x509 -req -sha256 -in "$work/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days 825 -extfile "$work/$name.ext" -out "$work/$name.crt" 2>/dev/null
    chmod 644 "$work/$name.crt"
    mv "$work/$name.key" "$dir/$name.key"
    mv "$work/$name.crt" "$dir/$name.crt"
    echo "make-certificates: made $dir/$name.crt ($san) and $dir/$name.key" >&2
done
