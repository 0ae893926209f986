package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/irismirror/iris-mirror-agent/internal/capped"
)

// QListName is the probe name used in results, logs and /status.
const QListName = "qlist"

// MaxQListOutput bounds what `iris qlist` may print. One instance's line is
// about 200 bytes; a command that prints more is not answering the question.
const MaxQListOutput = 4096

// QList is one line of `iris qlist <INSTANCE>`: fields split on '^', of which
// older versions print fewer (missing ones stay empty).
type QList struct {
	Instance     string // 0: instance name, such as IRIS
	Dir          string // 1: install directory
	Version      string // 2: such as 2024.1.0.262.0
	Status       string // 3: "running, since ...", "down, last used ...", "sign-on inhibited:primary transition"
	CPF          string // 4: configuration file
	SuperServer  string // 5: SuperServer port
	WebServer    string // 6: private web server port
	JDBCGateway  string // 7: JDBC gateway port
	State        string // 8: ok, warn, hung, alert; empty when down
	Product      string // 9: IRIS, IRISHealth, ...
	MemberType   string // 10: empty (not mirrored), Failover, Disaster Recovery
	MirrorStatus string // 11: Primary, Backup, Connected, Transition, ...
	DataDir      string // 12
}

// StatusWord is the status without its detail: "running", "down",
// "sign-on inhibited", or what else the instance printed before ',' or ':'.
func (q *QList) StatusWord() string {
	s := q.Status
	if i := strings.IndexAny(s, ",:"); i >= 0 {
		s = s[:i]
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// ParseQList parses one qlist line. It needs the instance name and the
// status (fields 0 to 3); every later field is optional. Surrounding
// whitespace (a trailing CR) is ignored; other control bytes are garbage.
func ParseQList(line string) (QList, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return QList{}, errors.New("empty line")
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return QList{}, fmt.Errorf("control byte 0x%02x at %d", c, i)
		}
	}
	f := strings.Split(line, "^")
	if len(f) < 4 {
		return QList{}, fmt.Errorf("%d fields split on '^', want at least 4", len(f))
	}
	get := func(i int) string {
		if i < len(f) {
			return strings.TrimSpace(f[i])
		}
		return ""
	}
	q := QList{
		Instance: get(0), Dir: get(1), Version: get(2), Status: get(3), CPF: get(4),
		SuperServer: get(5), WebServer: get(6), JDBCGateway: get(7), State: strings.ToLower(get(8)),
		Product: get(9), MemberType: get(10), MirrorStatus: get(11), DataDir: get(12),
	}
	if q.Instance == "" {
		return QList{}, errors.New("no instance name in field 0")
	}
	if q.Status == "" {
		return QList{}, errors.New("no status in field 3")
	}
	return q, nil
}

// Classify turns a parsed line into a probe outcome with its reason. An
// instance that is down, hung or refuses sign-ons is an Error: it cannot
// serve whatever its mirror status says. A running one is Primary when its
// mirror status says so, else NotPrimary.
func (q *QList) Classify() (Outcome, string) {
	switch w := q.StatusWord(); {
	case w == "down":
		return Error, "qlist: instance down"
	case strings.HasPrefix(w, "sign-on inhibited"):
		return Error, "qlist: " + safeText(q.Status, 60)
	case w != "running":
		return Error, "qlist: instance status " + safeText(q.Status, 60)
	}
	if q.State == "hung" {
		return Error, "qlist: instance hung"
	}
	desc := "qlist: running"
	if q.State != "" && q.State != "ok" {
		desc += ", state " + safeText(q.State, 16)
	}
	if q.MirrorRole() == MirrorPrimary {
		return Primary, desc + ", " + q.MirrorText()
	}
	return NotPrimary, desc + ", " + q.MirrorText()
}

// MirrorRole is the member's place in the mirror as iris qlist reports it.
// It refines the role mirror_status decides, and is empty without qlist.
type MirrorRole string

const (
	// MirrorUnknown: no qlist configured, or no usable qlist answer.
	MirrorUnknown MirrorRole = ""
	// MirrorPrimary: mirror status Primary.
	MirrorPrimary MirrorRole = "primary"
	// MirrorBackup: the failover backup (mirror status Backup).
	MirrorBackup MirrorRole = "backup"
	// MirrorAsync: member type Disaster Recovery (or reporting), or status
	// Connected.
	MirrorAsync MirrorRole = "async"
	// MirrorTransition: taking over or giving up the primary role; never
	// routable.
	MirrorTransition MirrorRole = "transition"
	// MirrorInactive: a failover member that is not an active backup yet
	// (Synchronizing, Waiting, Down, Not Initialized).
	MirrorInactive MirrorRole = "inactive"
	// MirrorNone: the instance is not a mirror member.
	MirrorNone MirrorRole = "none"
)

// MirrorRoles lists every mirror role, MirrorUnknown first.
func MirrorRoles() []MirrorRole {
	return []MirrorRole{MirrorUnknown, MirrorPrimary, MirrorBackup, MirrorAsync, MirrorTransition, MirrorInactive, MirrorNone}
}

// MirrorRole reads the mirror role from the line; a nil line or a down
// instance is MirrorUnknown.
func (q *QList) MirrorRole() MirrorRole {
	switch {
	case q == nil || q.StatusWord() == "down":
		return MirrorUnknown
	case strings.EqualFold(q.MirrorStatus, "Transition") || strings.Contains(strings.ToLower(q.Status), "primary transition"):
		return MirrorTransition
	case strings.EqualFold(q.MirrorStatus, "Primary"):
		return MirrorPrimary
	case strings.EqualFold(q.MirrorStatus, "Backup"):
		return MirrorBackup
	case strings.EqualFold(q.MirrorStatus, "Connected"), q.MemberType != "" && !strings.EqualFold(q.MemberType, "Failover"):
		return MirrorAsync
	case q.MemberType == "":
		return MirrorNone
	default:
		return MirrorInactive
	}
}

// MirrorText says in a few words what the line says of the mirror, such
// as "Failover Backup" or "not a mirror member"; safe to show.
func (q *QList) MirrorText() string {
	switch {
	case q.MemberType == "":
		return "not a mirror member"
	case q.MirrorStatus == "":
		return safeText(q.MemberType, 24) + " member, no mirror status"
	}
	return safeText(q.MemberType, 24) + " " + safeText(q.MirrorStatus, 24)
}

// QListTarget says which binary to run for which instance.
type QListTarget struct {
	Bin      string // the iris launcher, "iris" on PATH by default
	Instance string
}

// RunQList runs `<bin> qlist <instance>` under ctx and reads its line. The
// command runs in its own process group, killed whole when ctx ends, so a
// hung launcher (or anything it forked) never outlives the probe.
func RunQList(ctx context.Context, t QListTarget) Result {
	start := time.Now()
	q, res := runQList(ctx, t)
	res.Probe = QListName
	res.Latency = time.Since(start)
	if res.Reason == "" {
		res.Outcome, res.Reason = q.Classify()
		res.QList = &q
	}
	return res
}

func runQList(ctx context.Context, t QListTarget) (QList, Result) {
	cmd := exec.CommandContext(ctx, t.Bin, "qlist", t.Instance)
	out, errOut := &capped.Buffer{Max: MaxQListOutput}, &capped.Buffer{Max: 512}
	cmd.Stdout, cmd.Stderr = out, errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A grandchild that keeps our pipes open must not hold us either.
	cmd.WaitDelay = 100 * time.Millisecond
	err := cmd.Run()
	switch {
	case err != nil && ctx.Err() != nil:
		return QList{}, Result{Outcome: Error, Reason: "qlist " + describeNetError(ctx.Err())}
	case errors.Is(err, exec.ErrNotFound):
		return QList{}, Result{Outcome: Error, Reason: "qlist: " + safeText(t.Bin, 60) + " not found"}
	case err != nil:
		msg := err.Error()
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.Exited() {
			msg = fmt.Sprintf("exit %d", exit.ExitCode())
		}
		if e := firstLine(errOut.Bytes()); e != "" {
			msg += ": " + e
		}
		return QList{}, Result{Outcome: Error, Reason: "qlist " + safeText(msg, 100)}
	case out.Over:
		return QList{}, Result{Outcome: Error, Reason: fmt.Sprintf("qlist printed over %d bytes", MaxQListOutput)}
	}
	line := firstLine(out.Bytes())
	q, err := ParseQList(line)
	if err != nil {
		return QList{}, Result{Outcome: Error, Reason: "qlist unreadable: " + err.Error() + ": '" + safeText(line, 40) + "'"}
	}
	if !strings.EqualFold(q.Instance, t.Instance) {
		return QList{}, Result{Outcome: Error, Reason: "qlist answered for instance " + safeText(q.Instance, 32) + ", want " + safeText(t.Instance, 32)}
	}
	return q, Result{}
}

// firstLine returns the first non-empty line of b, trimmed.
func firstLine(b []byte) string {
	for _, l := range bytes.Split(b, []byte{'\n'}) {
		if s := strings.TrimSpace(string(l)); s != "" {
			return s
		}
	}
	return ""
}

// safeText cuts s to n bytes of printable ASCII without quotes or '#'.
func safeText(s string, n int) string { return printable([]byte(s), n) }
