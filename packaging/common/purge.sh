# Shared by the deb postrm (purge) and nothing else: rpm has no purge, state stays after an erase.
rm -rf /var/lib/serviceradar/poller-bootstrap
rm -rf /var/lib/serviceradar/join-token-broker
rmdir /etc/serviceradar/poller-bootstrap 2>/dev/null || true
rmdir /etc/serviceradar/join-token-broker 2>/dev/null || true
rmdir /etc/serviceradar 2>/dev/null || true
if [ -e /var/lib/serviceradar/.poller-bootstrap-made-account ]; then
  userdel serviceradar 2>/dev/null || true
  if getent group serviceradar >/dev/null; then groupdel serviceradar 2>/dev/null || true; fi
  rm -f /var/lib/serviceradar/.poller-bootstrap-made-account
fi
rmdir /var/lib/serviceradar 2>/dev/null || true
