#!/bin/bash
# The reference deployment's haproxy external-check script, exactly as it
# ran there (see shared/reference/iris-signals.md): haproxy forks it per
# server per check; it asks mirror_status.cxw of the server it names.
status=`curl -m 5 http://${HAPROXY_SERVER_NAME}:52773/csp/mirror_status.cxw -sN`
if [[ $status = "SUCCESS" ]]; then exit 0; else exit 1; fi
