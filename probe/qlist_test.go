package probe

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Lines recorded per member state, as `iris qlist IRIS` prints them (the
// samples in the project's reference, moved to a mirrored 2024.1 instance).
var qlistLines = map[string]string{
	"primary":    "IRIS^/usr/irissys^2024.1.0.262.0^running, since Tue Nov 25 09:12:44 2026^iris.cpf^1972^52773^62972^ok^IRIS^Failover^Primary^/usr/irissys/mgr/",
	"backup":     "IRIS^/usr/irissys^2024.1.0.262.0^running, since Tue Nov 25 09:12:47 2026^iris.cpf^1972^52773^62972^ok^IRIS^Failover^Backup^/usr/irissys/mgr/",
	"async":      "IRIS^/usr/irissys^2024.1.0.262.0^running, since Tue Nov 25 09:13:02 2026^iris.cpf^1972^52773^62972^ok^IRIS^Disaster Recovery^Connected^/usr/irissys/mgr/",
	"transition": "IRIS^/usr/irissys^2024.1.0.262.0^sign-on inhibited:primary transition^iris.cpf^1972^52773^62972^warn^IRIS^Failover^Transition^/usr/irissys/mgr/",
	"hung":       "IRIS^/usr/irissys^2024.1.0.262.0^running, since Tue Nov 25 09:12:44 2026^iris.cpf^1972^52773^62972^hung^IRIS^Failover^Primary^/usr/irissys/mgr/",
	"down":       "IRIS^/usr/irissys^2024.1.0.262.0^down, last used Tue Nov 25 10:01:13 2026^iris.cpf^1972^52773^62972^^IRIS^^^/usr/irissys/mgr/",
	"warn":       "IRIS^/usr/irissys^2024.1.0.262.0^running, since Tue Nov 25 09:12:44 2026^iris.cpf^1972^52773^62972^warn^IRIS^Failover^Primary^/usr/irissys/mgr/",
	"old":        "DOCKER^/ensemble/instances/docker^2018.1.1.643.0^running, since Mon Jul 23 14:42:09 2018^iris.cpf^1972^57772^62972^ok^IRIS^^^/ensemble/instances/docker",
	"older":      "INSTTEST^/ensemble/instances/insttest/^2015.2.2.805.0.16216^running, since Fri May 13 22:07:02 2016^cache.cpf^56772^57772^62972^ok^^Failover^Primary^/mgr/config",
}

func TestParseQList(t *testing.T) {
	q, err := ParseQList(qlistLines["async"] + "\r\n")
	if err != nil {
		t.Fatal(err)
	}
	want := QList{Instance: "IRIS", Dir: "/usr/irissys", Version: "2024.1.0.262.0", Status: "running, since Tue Nov 25 09:13:02 2026",
		CPF: "iris.cpf", SuperServer: "1972", WebServer: "52773", JDBCGateway: "62972", State: "ok", Product: "IRIS",
		MemberType: "Disaster Recovery", MirrorStatus: "Connected", DataDir: "/usr/irissys/mgr/"}
	if q != want {
		t.Fatalf("got %+v\nwant %+v", q, want)
	}
	// Older versions stop early: missing trailing fields are empty.
	q, err = ParseQList("IRIS^/usr/irissys^2017.2^running, since Mon Jul 23 14:42:09 2018^iris.cpf^1972")
	if err != nil || q.SuperServer != "1972" || q.State != "" || q.MirrorStatus != "" {
		t.Fatalf("short line: %+v %v", q, err)
	}
	for _, bad := range []string{"", "   ", "garbage", "IRIS^dir^ver", "^dir^ver^running", "IRIS^dir^ver^", "IRIS^a^b^running\x00^x"} {
		if _, err := ParseQList(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestClassifyQList(t *testing.T) {
	cases := []struct {
		line   string
		want   Outcome
		reason string
	}{
		{"primary", Primary, "Failover Primary"},
		{"backup", NotPrimary, "Failover Backup"},
		{"async", NotPrimary, "Disaster Recovery Connected"},
		{"transition", Error, "sign-on inhibited:primary transition"},
		{"hung", Error, "instance hung"},
		{"down", Error, "instance down"},
		{"warn", Primary, "state warn"},
		{"old", NotPrimary, "not a mirror member"},
		{"older", Primary, "Failover Primary"},
	}
	for _, tc := range cases {
		q, err := ParseQList(qlistLines[tc.line])
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		got, reason := q.Classify()
		if got != tc.want || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: %v %q, want %v containing %q", tc.line, got, reason, tc.want, tc.reason)
		}
	}
}

func FuzzParseQList(f *testing.F) {
	for _, l := range qlistLines {
		f.Add(l)
	}
	f.Add("IRIS^^^running")
	f.Add("^^^^^^^^^^^^^^^^^^")
	f.Fuzz(func(t *testing.T, line string) {
		q, err := ParseQList(line)
		if err != nil {
			return
		}
		if q.Instance == "" || q.Status == "" {
			t.Fatalf("accepted without instance or status: %q", line)
		}
		out, reason := q.Classify()
		if reason == "" || strings.ContainsAny(reason, "\n\r#") {
			t.Fatalf("bad reason %q for %q", reason, line)
		}
		if out == Primary && (q.StatusWord() != "running" || q.State == "hung") {
			t.Fatalf("primary while not running: %q", line)
		}
	})
}

// fakeIris writes an executable that acts as `iris` for one scenario.
func fakeIris(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "iris")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunQListFakeIris(t *testing.T) {
	printLine := func(state string) string {
		return `[ "$1" = qlist ] && [ "$2" = IRIS ] || { echo "usage: iris qlist <instance>" >&2; exit 2; }` + "\necho '" + qlistLines[state] + "'"
	}
	cases := []struct {
		name    string
		script  string
		bin     string
		want    Outcome
		reason  string
		maxTime time.Duration
	}{
		{"primary", printLine("primary"), "", Primary, "Failover Primary", time.Second},
		{"backup", printLine("backup"), "", NotPrimary, "Failover Backup", time.Second},
		{"async", printLine("async"), "", NotPrimary, "Connected", time.Second},
		{"down", printLine("down"), "", Error, "instance down", time.Second},
		{"hung state", printLine("hung"), "", Error, "instance hung", time.Second},
		{"hangs", "sleep 30", "", Error, "timeout", 2 * time.Second},
		{"hangs holding the pipe", "sleep 30 &\nsleep 31", "", Error, "timeout", 2 * time.Second},
		{"prints then hangs", "echo '" + qlistLines["primary"] + "'\nsleep 30", "", Error, "timeout", 2 * time.Second},
		{"garbage", "echo 'Segmentation fault (core dumped)'", "", Error, "unreadable", time.Second},
		{"binary garbage", "printf 'IRIS^\\001\\002^x^running\\n'", "", Error, "control byte", time.Second},
		{"huge output", "yes '" + qlistLines["primary"] + "' | head -c 1000000", "", Error, "over 4096 bytes", 2 * time.Second},
		{"exit 1", "echo 'instance IRIS not found' >&2; exit 1", "", Error, "exit 1: instance IRIS not found", time.Second},
		{"other instance", "echo '" + strings.Replace(qlistLines["primary"], "IRIS^", "OTHER^", 1) + "'", "", Error, "instance OTHER, want IRIS", time.Second},
		{"no binary", "", "/nonexistent/iris", Error, "qlist", time.Second},
		{"empty", "true", "", Error, "empty line", time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bin := tc.bin
			if bin == "" {
				bin = fakeIris(t, tc.script)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			res := RunQList(ctx, QListTarget{Bin: bin, Instance: "IRIS"})
			elapsed := time.Since(start)
			if res.Outcome != tc.want || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("got %v %q, want %v containing %q", res.Outcome, res.Reason, tc.want, tc.reason)
			}
			if res.Probe != QListName || res.Latency <= 0 {
				t.Errorf("result not labelled: %+v", res)
			}
			// A parsed line travels with the result; nothing else does.
			parsed := tc.reason == "instance down" || tc.reason == "instance hung" || tc.want != Error
			if (res.QList != nil) != parsed {
				t.Errorf("parsed line %v, want %v", res.QList, parsed)
			}
			if elapsed > tc.maxTime {
				t.Errorf("took %v, want at most %v", elapsed, tc.maxTime)
			}
		})
	}
}
