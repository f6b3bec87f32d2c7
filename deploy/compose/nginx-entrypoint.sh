#!/bin/sh
# The nginx container's entrypoint in deploy/compose.yaml: renders the tested
# deploy/nginx/wxauth.conf (mounted at /etc/wxauth/wxauth.conf) into conf.d,
# the way deploy/test-nginx.sh does, then runs nginx in the foreground.
#
#   WXAUTH_REPLICAS     upstream servers, space-separated (host:port)
#   WXAUTH_NGINX_SIM    optional: proxy /sim/ to this simulator (URL); unset,
#                       /sim/ stays closed (404) as in production
#
# Lines marked `# @...`: the first `@replica` becomes one line per replica
# (its flags kept), `[::]` listens are dropped (container networks are IPv4),
# logs go to the container's stdout and stderr, and the certificate stays where
# wxauth.conf says (/etc/nginx/tls/auth.example.com.{crt,key}, mounted).
# Works with the official nginx image and with Debian's nginx package.
set -eu
SRC=${WXAUTH_NGINX_CONF:-/etc/wxauth/wxauth.conf}
DST=/etc/nginx/conf.d/wxauth.conf
: "${WXAUTH_REPLICAS:?set WXAUTH_REPLICAS, e.g. wxauth-a:8080 wxauth-b:8080}"

awk -v replicas="$WXAUTH_REPLICAS" -v sim="${WXAUTH_NGINX_SIM:-}" '
/#[ \t]*@replica[ \t]*$/ {
    if (!done) {
        n = split(replicas, r, " ")
        for (i = 1; i <= n; i++) { line = $0; sub(/server[ \t]+[^ \t;]+/, "server " r[i], line); print line }
        done = 1
    }
    next
}
/#[ \t]*@listen-https?[ \t]*$/ { if ($0 !~ /\[::\]/) print; next }
/#[ \t]*@access-log[ \t]*$/ { print "    access_log /dev/stdout wxauth_access;"; next }
/#[ \t]*@error-log[ \t]*$/ { print "    error_log /dev/stderr warn;"; next }
/#[ \t]*@sim[ \t]*$/ { if (sim == "") print; next }
/#[ \t]*@test-routes[ \t]*$/ {
    if (sim != "") print "    location ^~ /sim/ { proxy_pass " sim "; }"
    next
}
{ print }
END { if (!done) { print "no # @replica line in the config" > "/dev/stderr"; exit 1 } }
' "$SRC" >"$DST"

# The packaged default sites would take port 80.
rm -f /etc/nginx/conf.d/default.conf /etc/nginx/sites-enabled/default
nginx -t -q
exec nginx -g 'daemon off;'
