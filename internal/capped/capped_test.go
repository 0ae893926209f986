package capped

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestBufferKeepsTheStart(t *testing.T) {
	b := &Buffer{Max: 10}
	n, err := io.Copy(b, strings.NewReader(strings.Repeat("0123456789", 1000)))
	if err != nil || n != 10000 {
		t.Fatalf("copy: %d %v (writes must never fail)", n, err)
	}
	if !bytes.Equal(b.Bytes(), []byte("0123456789")) || !b.Over {
		t.Fatalf("%q over=%v", b.Bytes(), b.Over)
	}
	small := &Buffer{Max: 10}
	_, _ = small.Write([]byte("abc"))
	if string(small.Bytes()) != "abc" || small.Over {
		t.Fatalf("%q over=%v", small.Bytes(), small.Over)
	}
}
