#!/usr/bin/env bash
# Debian packages of the real components the stand-ins and the tests run, installed
# only when missing: OpenSSH's sshd (the inbox / PBoC / city SFTP stand-ins), PostgreSQL
# (the production store, tested for real), Redis (the Celery broker of the cluster test), Chromium (the UI test) and docker-compose (the
# compose file's check). Then makes sure PostgreSQL answers on 127.0.0.1:5432 and Redis on
# 127.0.0.1:6379.
set -euo pipefail

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/lib/openssh/sftp-server ] || need+=(openssh-sftp-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
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

# Redis answers PING on 127.0.0.1:6379 (bash's /dev/tcp: no client needed).
redis_ready() {
  (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && [[ $reply == +PONG* ]]) 2>/dev/null
}
if ! redis_ready; then
  # A throw-away broker for the tests: loopback only, nothing written to disk.
  redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 1 100); do redis_ready && break; sleep 0.1; done
fi
redis_ready || { echo "Redis does not answer on 127.0.0.1:6379" >&2; exit 1; }
