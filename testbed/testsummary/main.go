// Command testsummary reads `go test -json` on stdin and prints what a
// plain `go test` prints (each package's result, the output of the tests
// that failed), then a summary of the skipped tests with their reasons.
// It exits 1 when a test failed, and, with -no-skips (CI), when one was
// skipped: under CI=true every tool a test needs is installed, so a skip
// is a test that did not run.
//
//	go test -race -count=1 -json ./... | go run ./testbed/testsummary -no-skips
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// summary is what the events said.
type summary struct {
	failedTests, failedPackages int
	skipped                     []string // "pkg TestX: reason"
}

func main() {
	noSkips := flag.Bool("no-skips", false, "exit 1 when a test was skipped (CI: every tool is installed)")
	flag.Parse()
	s, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("\ntests: %d failed in %d packages; %d skipped\n", s.failedTests, s.failedPackages, len(s.skipped))
	for _, sk := range s.skipped {
		fmt.Printf("  skipped: %s\n", sk)
	}
	switch {
	case s.failedTests > 0 || s.failedPackages > 0:
		os.Exit(1)
	case *noSkips && len(s.skipped) > 0:
		fmt.Println("testsummary: tests were skipped, and -no-skips (CI) allows none")
		os.Exit(1)
	}
}

// summarize prints a plain go test's output to out and returns the counts.
func summarize(in io.Reader, out io.Writer) (summary, error) {
	var s summary
	outputs := map[string][]string{} // "pkg\x00Test" -> its output lines
	pkgOut := map[string][]string{}  // output outside tests, per package
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			fmt.Fprintln(out, string(line)) // build errors come as plain text
			continue
		}
		key := e.Package + "\x00" + e.Test
		switch {
		case e.Action == "output" && e.Test != "":
			outputs[key] = append(outputs[key], e.Output)
		case e.Action == "output":
			pkgOut[e.Package] = append(pkgOut[e.Package], e.Output)
		case e.Test != "" && e.Action == "fail":
			s.failedTests++
			fmt.Fprint(out, strings.Join(outputs[key], ""))
			delete(outputs, key)
		case e.Test != "" && e.Action == "skip":
			s.skipped = append(s.skipped, fmt.Sprintf("%s %s: %s", e.Package, e.Test, skipReason(outputs[key])))
			delete(outputs, key)
		case e.Test != "" && e.Action == "pass":
			delete(outputs, key)
		case e.Action == "fail":
			s.failedPackages++
			fmt.Fprint(out, strings.Join(nonResult(pkgOut[e.Package]), ""))
			fmt.Fprintf(out, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
		case e.Action == "pass":
			fmt.Fprintf(out, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
		case e.Action == "skip":
			fmt.Fprintf(out, "?   \t%s\t[no test files]\n", e.Package)
		}
	}
	sort.Strings(s.skipped)
	return s, sc.Err()
}

// skipReason is what a skipped test logged before its --- SKIP line.
func skipReason(lines []string) string {
	var why []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		why = append(why, t)
	}
	if len(why) == 0 {
		return "(no reason given)"
	}
	return strings.Join(why, " ")
}

// nonResult drops the package's own summary lines, printed again above.
func nonResult(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "FAIL\t") || strings.HasPrefix(l, "ok  \t") || l == "FAIL\n" || l == "PASS\n" {
			continue
		}
		out = append(out, l)
	}
	return out
}
