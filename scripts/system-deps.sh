#!/usr/bin/env bash
# Debian packages of the real components the stand-ins and the tests run, installed
# only when missing: OpenSSH's sshd (the inbox / PBoC / city SFTP stand-ins), PostgreSQL
# (the production store, tested for real), Chromium (the UI test) and docker-compose (the
# compose file's check). Then makes sure PostgreSQL answers on 127.0.0.1:5432.
set -euo pipefail

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/lib/openssh/sftp-server ] || need+=(openssh-sftp-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
# A CJK font, so the Chinese labels of the UI render in screenshots.
[ -d /usr/share/fonts/truetype/wqy ] || need+=(fonts-wqy-zenhei)
# Debian's docker-compose 1.29 validates docker/docker-compose.yaml without a Docker engine.
command -v docker-compose >/dev/null || need+=(docker-compose)

if ((${#need[@]})); then
  echo "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_ready; then
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$ver" ]; then
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    # A test machine: let the test suite reach its own throw-away databases on loopback.
    if ! $SUDO grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
      $SUDO sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    fi
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || $SUDO pg_ctlcluster "$ver" main start
    for _ in $(seq 1 100); do pg_ready && break; sleep 0.1; done
  fi
fi
pg_ready || { echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
