package haproxyclient

import "testing"

func TestParseShowStat(t *testing.T) {
	out := "# pxname,svname,status,lastchg,last_agt\n" +
		"ap1,FRONTEND,OPEN,,\n" +
		"ap1,ap1a,UP,12,up ready 100%\n" +
		"ap1,ap1b,DOWN,12,\"down #role standby: mirror_status 503 FAILED\"\n" +
		"ap1,BACKEND,UP,12,\n\n"
	st, err := ParseShowStat(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 {
		t.Fatalf("want 2 servers, got %v", st)
	}
	if got := st["ap1/ap1b"]; got["status"] != "DOWN" || got["last_agt"] != "down #role standby: mirror_status 503 FAILED" || got["lastchg"] != "12" {
		t.Fatalf("ap1/ap1b: %v", got)
	}
	if _, err := ParseShowStat("# pxname\n"); err == nil {
		t.Fatal("a header alone must be an error")
	}
}
