package benchsuite

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	m, err := parseStatus("Name:\tx\nVmHWM:\t   12000 kB\nVmRSS:\t    8000 kB\nThreads:\t5\n")
	if err != nil || m.RSS != 8000*1024 || m.HWM != 12000*1024 {
		t.Fatalf("%+v %v", m, err)
	}
	if _, err := parseStatus("Name:\tx\n"); err == nil {
		t.Fatal("a status without VmRSS must be an error")
	}
}

func TestParseStatCPU(t *testing.T) {
	// The command name holds a space and a parenthesis.
	line := "4242 (a b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 3 0 100 1000 200 18446744073709551615"
	d, err := parseStatCPU(line)
	if err != nil || d != 1750*time.Millisecond {
		t.Fatalf("%v %v", d, err)
	}
	if _, err := parseStatCPU("garbage"); err == nil {
		t.Fatal("want an error")
	}
}

func TestReadOwnProcess(t *testing.T) {
	m, err := ReadMemory(os.Getpid())
	if err != nil || m.RSS <= 0 || m.HWM < m.RSS {
		t.Fatalf("%+v %v", m, err)
	}
	c0, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); {
		_ = strings.Repeat("x", 100) // burn a little CPU
	}
	c1, _ := CPUTime(os.Getpid())
	if c1 <= c0 {
		t.Fatalf("CPU time did not grow while busy: %v -> %v", c0, c1)
	}
}

func TestRusageCPUIncludesChildren(t *testing.T) {
	// bash waits for its child, as check.sh waits for curl: the child's CPU
	// is in the rusage haproxy (and the suite) gets from wait4.
	cmd := exec.Command("/bin/sh", "-c", `sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done'`)
	if err := cmd.Run(); err != nil {
		t.Fatalf("no /bin/sh: %v", err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if RusageCPU(ru) < time.Millisecond {
		t.Fatalf("child CPU missing: %v", RusageCPU(ru))
	}
	if RusageCPU(nil) != 0 {
		t.Fatal("nil rusage")
	}
}

func TestReadMachine(t *testing.T) {
	m := ReadMachine()
	if m.Cores < 1 || m.Go == "" || m.MemoryGB <= 0 || !strings.HasPrefix(m.Kernel, "Linux") {
		t.Fatalf("%+v", m)
	}
}
