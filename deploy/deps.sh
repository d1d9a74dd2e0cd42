#!/usr/bin/env bash
# deps.sh - install what riskgate needs on Debian 12 (as root), or print
# exactly what to install. Used by `make test`, `make demo`, `make bench`.
set -euo pipefail

PKGS=(build-essential pkg-config librdkafka-dev libhiredis-dev libcjson-dev libyaml-dev
      libssl-dev libmicrohttpd-dev libck-dev libcmocka-dev redis-server kcat
      openjdk-17-jre-headless maven python3 python3-numpy python3-xgboost python3-sklearn
      libxgboost-dev python3-matplotlib curl procps bc openssl iproute2)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# A JDK or JRE from elsewhere is fine for the broker.
if [[ " ${missing[*]} " == *" openjdk-17-jre-headless "* ]] && command -v java >/dev/null; then
    missing=("${missing[@]/openjdk-17-jre-headless}")
fi
if [[ " ${missing[*]} " == *" maven "* ]] && command -v mvn >/dev/null; then
    missing=("${missing[@]/maven}")
fi
read -r -a missing <<< "${missing[*]}"

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "deps: missing Debian packages; install them with:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
