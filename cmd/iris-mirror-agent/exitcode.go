package main

// Exit codes, listed in docs/operations.md.
const (
	// ExitOK: the check passed, or the command did its job.
	ExitOK = 0
	// ExitFail: the check failed (not primary, not live, agent unreachable).
	// healthcheck exits only 0 or 1: Docker reserves 2.
	ExitFail = 1
	// ExitUsage: a bad flag, environment variable or argument.
	ExitUsage = 2
	// ExitRuntime: serve could not start or stopped on an error (such as a
	// port already in use).
	ExitRuntime = 3
)
