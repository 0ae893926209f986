package extcheck

import "testing"

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestDetect(t *testing.T) {
	hap := env(map[string]string{"HAPROXY_SERVER_ADDR": "127.0.1.1", "HAPROXY_SERVER_NAME": "ap1a"})
	none := env(nil)
	cases := []struct {
		args   []string
		getenv func(string) string
		ok     bool
	}{
		{[]string{"NOT_USED", "NOT_USED", "127.0.1.1", "1972"}, hap, true},
		{[]string{"NOT_USED", "NOT_USED", "127.0.1.1", "1972"}, none, true}, // env fully cleared
		{[]string{"0.0.0.0", "1972", "127.0.1.1", "1972"}, hap, true},       // listen section
		{[]string{"0.0.0.0", "1972", "127.0.1.1", "1972"}, none, false},
		{[]string{"serve"}, hap, false},
		{[]string{"check", "--url", "x", "y"}, none, false},
		{nil, hap, false},
	}
	for _, tc := range cases {
		inv, ok := Detect(tc.args, tc.getenv)
		if ok != tc.ok {
			t.Errorf("%q: detected=%v, want %v", tc.args, ok, tc.ok)
		}
		if ok && inv.ServerAddr != "127.0.1.1" {
			t.Errorf("%q: server addr %q", tc.args, inv.ServerAddr)
		}
	}
}

func TestLookup(t *testing.T) {
	environ := []string{"A=1", "B=", "A=2", "noequals"}
	if got := Lookup(environ)("A"); got != "2" {
		t.Errorf("A: %q, want the last assignment", got)
	}
	if v, ok := LookupOK(environ, "B"); !ok || v != "" {
		t.Errorf("B: %q %v, want set and empty", v, ok)
	}
	if _, ok := LookupOK(environ, "noequals"); ok {
		t.Error("a word without = is not an assignment")
	}
}
