package simulator

import (
	"strings"
	"time"
)

// QListLine is what `iris qlist <instance>` prints for a member in state st,
// in the field order of IRIS 2024.1 (see the project's reference): a
// failover pair for primary and backup, a disaster-recovery async for
// async, state "hung" for a hung instance, and "down" with empty mirror
// fields for a stopped one.
func QListLine(instance string, st State, since time.Time) string {
	status, state, memberType, mirror := "running, since "+since.Format("Mon Jan _2 15:04:05 2006"), "ok", "Failover", ""
	switch st {
	case Primary:
		mirror = "Primary"
	case Backup:
		mirror = "Backup"
	case Async:
		memberType, mirror = "Disaster Recovery", "Connected"
	case Hang:
		state, mirror = "hung", "Primary"
	case Down:
		status, state, memberType = "down, last used "+since.Format("Mon Jan _2 15:04:05 2006"), "", ""
	}
	dir := "/usr/irissys"
	return strings.Join([]string{instance, dir, "2024.1.0.262.0", status, "iris.cpf", "1972", "52773", "62972",
		state, "IRIS", memberType, mirror, dir + "/mgr/"}, "^")
}

// QListState prints the line for a member (used by `irissim qlist`).
func QListState(instance string, st State) string {
	return QListLine(instance, st, time.Now().Add(-time.Hour))
}
