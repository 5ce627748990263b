#!/usr/bin/env bash
# Installs the built .deb on this machine (as root, systemd not running: nothing is started), checks what a user
# would find, then purges it and checks that the machine is as it was. Run by .ci/run after `npm run package`.
set -euo pipefail
deb=$(ls dist/pkg/poller-bootstrap_*.deb)
fail() { echo "deb-install-check: $*" >&2; exit 1; }

had_user=no
getent passwd serviceradar >/dev/null && had_user=yes

dpkg -i "$deb"
[ "$(dpkg-query -W -f='${Status}' poller-bootstrap)" = "install ok installed" ] || fail "not installed"

# The installed executable: no node on PATH, from another directory.
(cd / && env PATH=/usr/sbin:/sbin /usr/bin/poller-bootstrap --version) | grep -qx 'poller-bootstrap 0.1.0' ||
  fail "--version"
(cd / && env PATH=/usr/sbin:/sbin /usr/bin/poller-bootstrap render) > /tmp/deb-render.out ||
  fail "render of the shipped config"
grep -q 'socket_path = "/run/spire/nested-workload/agent.sock"' /tmp/deb-render.out || fail "render output"

# Account, directories, conffile, unit.
getent passwd serviceradar | grep -q ':/usr/sbin/nologin$' || fail "user serviceradar"
getent group serviceradar >/dev/null || fail "group serviceradar"
[ "$(stat -c '%U:%G %a' /var/lib/serviceradar/poller-bootstrap)" = "serviceradar:serviceradar 700" ] ||
  fail "state dir: $(stat -c '%U:%G %a' /var/lib/serviceradar/poller-bootstrap)"
[ "$(stat -c '%U:%G %a' /etc/serviceradar/poller-bootstrap)" = "root:serviceradar 750" ] || fail "secrets dir"
dpkg-query -W -f='${Conffiles}\n' poller-bootstrap | grep -q '/etc/serviceradar/poller-bootstrap.json' ||
  fail "conffile not registered"
[ -f /lib/systemd/system/poller-bootstrap.service ] || fail "unit"
[ -f /lib/systemd/system/poller-bootstrap-broker.service ] || fail "broker unit"
[ "$(stat -c '%U:%G %a' /etc/serviceradar/join-token-broker)" = "root:serviceradar 750" ] || fail "broker secrets dir"
[ -f /usr/share/doc/poller-bootstrap/examples/join-token-broker.json ] || fail "broker example config"
# With the binary installed, verify checks ExecStart too.
systemd-analyze verify /lib/systemd/system/poller-bootstrap.service
# The broker's unit names the SPIRE server's group, which SPIRE's own package makes; verify needs it to exist.
getent group spire >/dev/null || { groupadd --system spire; made_spire=yes; }
systemd-analyze verify /lib/systemd/system/poller-bootstrap-broker.service
[ "${made_spire:-no}" = no ] || groupdel spire

dpkg -P poller-bootstrap
! dpkg-query -W poller-bootstrap >/dev/null 2>&1 || fail "still known to dpkg after purge"
for path in /usr/bin/poller-bootstrap /etc/serviceradar/poller-bootstrap.json /etc/serviceradar/poller-bootstrap \
  /var/lib/serviceradar/poller-bootstrap /lib/systemd/system/poller-bootstrap.service \
  /lib/systemd/system/poller-bootstrap-broker.service /etc/serviceradar/join-token-broker; do
  [ ! -e "$path" ] || fail "$path left after purge"
done
if [ "$had_user" = no ]; then
  ! getent passwd serviceradar >/dev/null || fail "user serviceradar left after purge"
fi
echo "deb-install-check: installed, checked and purged $deb"
