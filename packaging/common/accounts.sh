# Shared by the deb postinst and the rpm %post (inlined at build time by scripts/package/maintainer.ts).
# The system user and group the daemon and its SPIRE children run as, and the directories systemd does not make.
if ! getent group serviceradar >/dev/null; then
  groupadd --system serviceradar
fi
if ! getent passwd serviceradar >/dev/null; then
  useradd --system --gid serviceradar --home-dir /var/lib/serviceradar --no-create-home \
    --shell /usr/sbin/nologin --comment "ServiceRadar" serviceradar
  # Remembered so that a purge removes only an account this package made (others may share it).
  mkdir -p /var/lib/serviceradar
  touch /var/lib/serviceradar/.poller-bootstrap-made-account
fi
# Identity lives here and must survive reboots and upgrades: only the service user may read it.
install -d -m 0755 /var/lib/serviceradar
install -d -m 0700 -o serviceradar -g serviceradar /var/lib/serviceradar/poller-bootstrap
# Secrets the operator drops in (admin password or API key file, a join token): root writes, the service reads.
install -d -m 0750 -o root -g serviceradar /etc/serviceradar/poller-bootstrap
# The broker's users and API keys files, its JWT signing key and TLS key, on the SPIRE server's machine.
install -d -m 0750 -o root -g serviceradar /etc/serviceradar/join-token-broker
