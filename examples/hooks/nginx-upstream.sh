#!/bin/sh
# iris-mirror-agent --on-change hook: point an nginx upstream at this member
# while it is the routable primary, and reload nginx.
#
#   iris-mirror-agent serve --on-change /etc/iris-mirror-agent/nginx-upstream.sh
#
# nginx includes the file inside an upstream block:
#
#   upstream iris { include /etc/nginx/iris-primary.conf; }
#
# Settings, from the agent's environment:
#   NGINX_UPSTREAM_FILE  the included file (required)
#   NGINX_SERVER         this member as nginx reaches it, host:port (required)
#   NGINX_RELOAD         how to reload nginx (default: nginx -s reload)
#   NGINX_DOWN_SERVER    written when no member is primary (default 127.0.0.1:9,
#                        marked down: nginx answers 502 at once instead of waiting)
#
# Every agent of the mirror set may run this hook on the same file (nginx
# beside the members, or the file on a shared volume): a lock orders them,
# and a member that stops being primary only clears the file if it still
# names that member, so the order in which two agents see a switch does
# not matter.
set -eu
file=${NGINX_UPSTREAM_FILE:?set NGINX_UPSTREAM_FILE}
server=${NGINX_SERVER:?set NGINX_SERVER}
reload=${NGINX_RELOAD:-nginx -s reload}
mine="server $server;"
placeholder="server ${NGINX_DOWN_SERVER:-127.0.0.1:9} down;"

exec 9>>"$file.lock"
flock -w 10 9

current=$(cat "$file" 2>/dev/null || true)
if [ "$IRIS_MIRROR_AGENT_ROUTABLE" = true ]; then
    want=$mine
elif [ "$current" = "$mine" ] || [ -z "$current" ]; then
    want=$placeholder
else
    echo "upstream names another member ($current): left alone"
    exit 0
fi
if [ "$current" = "$want" ]; then
    echo "upstream already: $want"
    exit 0
fi
printf '%s\n' "$want" > "$file.tmp.$$"
mv "$file.tmp.$$" "$file"
$reload
echo "upstream now: $want ($IRIS_MIRROR_AGENT_PREVIOUS_ROLE -> $IRIS_MIRROR_AGENT_ROLE: $IRIS_MIRROR_AGENT_REASON)"
