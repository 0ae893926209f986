package demo

import "syscall"

// childAttr puts a child in its own process group (so it can be stopped as
// a group) and kills it if the demo dies without stopping it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
