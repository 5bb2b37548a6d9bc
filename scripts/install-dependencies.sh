#!/usr/bin/env bash
# Installs the Debian packages vmm's build, tests and test guests need.
# Swift itself is expected at /opt/swift (or anywhere on PATH).
set -euo pipefail

packages=(
    gcc gcc-multilib make        # Multiboot test kernels (-m32, 64-bit division from libgcc)
    acpica-tools                 # iasl: the ACPI table tests' oracle
    linux-source-6.1 bc bison flex libelf-dev libssl-dev lz4   # the minimal Linux guest
    busybox-static cpio          # its initramfs
    e2fsprogs iproute2           # disk images and network namespaces for device tests
    python3                      # the device tests' DHCP responder (AF_PACKET on a tap)
    curl util-linux              # daemon tests drive the REST API; setpriv, script
    openssl                      # scripts/make-certificates.sh (the TLS tests use it)
    etcd-server etcd-client      # cluster mode's store; tests run their own members
    systemd                      # systemd-analyze: InstallTests verifies vmmd.service and gates its exposure
)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "install-dependencies: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's etcd-server enables and starts a system etcd on 127.0.0.1:2379 with its data in
# /var/lib/etcd. Tests start their own members on free ports, and a stray cluster member on
# a CI machine is nobody's, so keep it off (a no-op where it is already off, or no systemd).
if [[ -d /run/systemd/system ]] && systemctl is-enabled --quiet etcd.service 2>/dev/null; then
    systemctl disable --now --quiet etcd.service
fi
python3 -c "import openapi_spec_validator, jsonschema, yaml" 2>/dev/null \
    || python3 -m pip install -q openapi-spec-validator jsonschema pyyaml
command -v swift >/dev/null || { echo "install-dependencies: swift is not on PATH (expected /opt/swift/usr/bin)" >&2; exit 1; }
