//go:build !linux

package demo

import "syscall"

// childAttr puts a child in its own process group, so it can be stopped as
// a group.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
