#!/bin/bash
# Failover time of the HA cluster (docs/cluster.md section 5) over RUNS runs (default 20):
# three vmmd in network namespaces, a three-member etcd on their switch, default lease
# settings; each run SIGKILLs the HA VM's host and times until the guest writes again on
# another host. Needs root, /dev/kvm, etcd-server; writes bench/results-failover-latest.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/opt/swift/usr/bin
swift build --build-tests
make -s -C Tests/Guests OUT="$PWD/.build/guests"
VMM_BENCH_FAILOVER_RUNS=${RUNS:-20} swift test --skip-build --filter ClusterFailoverBench
cat bench/results-failover-latest.md
