package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestSummarize feeds the events of a package with a passing, a skipped
// and a failing test, as go test -json writes them.
func TestSummarize(t *testing.T) {
	in := `{"Action":"start","Package":"ts"}
{"Action":"run","Package":"ts","Test":"TestOK"}
{"Action":"output","Package":"ts","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"ts","Test":"TestOK","Elapsed":0}
{"Action":"run","Package":"ts","Test":"TestSkip"}
{"Action":"output","Package":"ts","Test":"TestSkip","Output":"=== RUN   TestSkip\n"}
{"Action":"output","Package":"ts","Test":"TestSkip","Output":"    a_test.go:4: no haproxy here\n"}
{"Action":"output","Package":"ts","Test":"TestSkip","Output":"--- SKIP: TestSkip (0.00s)\n"}
{"Action":"skip","Package":"ts","Test":"TestSkip","Elapsed":0}
{"Action":"run","Package":"ts","Test":"TestFail"}
{"Action":"output","Package":"ts","Test":"TestFail","Output":"    a_test.go:5: boom\n"}
{"Action":"output","Package":"ts","Test":"TestFail","Output":"--- FAIL: TestFail (0.00s)\n"}
{"Action":"fail","Package":"ts","Test":"TestFail","Elapsed":0}
{"Action":"output","Package":"ts","Output":"FAIL\n"}
{"Action":"fail","Package":"ts","Elapsed":0.015}
{"Action":"skip","Package":"empty","Elapsed":0}
`
	var out bytes.Buffer
	s, err := summarize(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if s.failedTests != 1 || s.failedPackages != 1 || len(s.skipped) != 1 || s.skipped[0] != "ts TestSkip: a_test.go:4: no haproxy here" {
		t.Fatalf("%+v", s)
	}
	for _, want := range []string{"a_test.go:5: boom", "FAIL\tts\t0.015s", "?   \tempty\t[no test files]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "TestOK") {
		t.Errorf("a passing test's output was printed:\n%s", out.String())
	}
}
