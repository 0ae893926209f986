// Package tradeoff measures what the agent's polling settings trade:
// how soon a failover is seen against how often IRIS's latency spikes
// make /primary fail for a member that stayed primary (a blip).
package tradeoff
