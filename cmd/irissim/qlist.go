package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// runQList makes irissim act as IRIS's launcher for one command:
//
//	irissim qlist <INSTANCE>
//
// prints the qlist line of the simulated member whose control endpoint is
// in IRISSIM_CONTROL (default 127.0.0.1:52780), so the agent's --iris-bin
// can point at irissim itself: it runs "<iris-bin> qlist <INSTANCE>".
func runQList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: irissim qlist <INSTANCE>   (member from IRISSIM_CONTROL)")
		return 2
	}
	control := os.Getenv("IRISSIM_CONTROL")
	if control == "" {
		control = "127.0.0.1:52780"
	}
	body, err := call(ctx, "GET", "http://"+control+"/stats", "")
	if err != nil {
		fmt.Fprintf(stderr, "irissim qlist: %v\n", err)
		return 1
	}
	var st struct {
		State simulator.State `json:"state"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		fmt.Fprintf(stderr, "irissim qlist: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, simulator.QListState(args[0], st.State))
	return 0
}
