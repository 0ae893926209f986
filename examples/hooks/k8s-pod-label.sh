#!/bin/sh
# iris-mirror-agent --on-change hook: label this member's pod with its role,
# so a Service can select the primary (or the asyncs for reads):
#
#   selector: {app: iris, iris-mirror-agent/routable: "true"}
#
# Settings, from the agent's environment (the Downward API gives the first two):
#   POD_NAME       this pod (required)
#   POD_NAMESPACE  its namespace (default: default)
#   KUBECTL        kubectl to run (default: kubectl on PATH)
# The pod's service account needs "patch" on pods in its namespace.
set -eu
pod=${POD_NAME:?set POD_NAME}
ns=${POD_NAMESPACE:-default}
${KUBECTL:-kubectl} label pod "$pod" --namespace "$ns" --overwrite \
    "iris-mirror-agent/role=$IRIS_MIRROR_AGENT_ROLE" \
    "iris-mirror-agent/routable=$IRIS_MIRROR_AGENT_ROUTABLE" \
    "iris-mirror-agent/maintenance=$IRIS_MIRROR_AGENT_MAINTENANCE"
