#!/usr/bin/env bash
# Checks the deploy files as far as a machine without the real host allows:
#   nginx -t on nginx-mode-advisor.conf (with a throwaway self-signed certificate in place of Let's Encrypt's)
#   systemd-analyze verify on the unit (as instance mode-advisor@8001)
# Needs nginx, openssl and systemd-analyze; changes nothing outside a temporary directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=bot.example.com" \
  -keyout "$tmp/privkey.pem" -out "$tmp/fullchain.pem" 2>/dev/null
sed "s#/etc/letsencrypt/live/bot.example.com#$tmp#" "$here/nginx-mode-advisor.conf" > "$tmp/site.conf"
cat > "$tmp/nginx.conf" <<CONF
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    include $tmp/site.conf;
}
CONF
nginx -t -c "$tmp/nginx.conf"

# the unit as installed, but pointing at this checkout (its .venv, made by `make`) instead of /opt/mode-advisor/app
sed "s#/opt/mode-advisor/app#$(dirname "$here")#g" "$here/mode-advisor@.service" > "$tmp/mode-advisor@8001.service"
systemd-analyze verify "$tmp/mode-advisor@8001.service" && echo "systemd-analyze verify: mode-advisor@8001.service OK"
