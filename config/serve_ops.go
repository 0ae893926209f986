package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// validateOps checks the operations settings of serve.
func (c *Serve) validateOps(bad func(flag string, value any, why string) error) error {
	if c.QListInstance != "" {
		if strings.ContainsAny(c.QListInstance, " \t\r\n/^") || len(c.QListInstance) > 64 {
			return bad("qlist-instance", c.QListInstance, "must be an instance name (at most 64 characters, no spaces, '/' or '^')")
		}
		if c.IrisBin == "" {
			return bad("iris-bin", c.IrisBin, "must name the iris launcher when --qlist-instance is set")
		}
		if _, err := exec.LookPath(c.IrisBin); err != nil {
			return bad("iris-bin", c.IrisBin, "not found or not executable (set the full path)")
		}
	}
	if c.DrainFile != "" {
		if st, err := os.Stat(filepath.Dir(c.DrainFile)); err != nil || !st.IsDir() {
			return bad("drain-file", c.DrainFile, "its directory does not exist")
		}
	}
	if c.AdminSocket != "" {
		if st, err := os.Stat(filepath.Dir(c.AdminSocket)); err != nil || !st.IsDir() {
			return bad("admin-socket", c.AdminSocket, "its directory does not exist")
		}
		if len(c.AdminSocket) > 100 {
			return bad("admin-socket", c.AdminSocket, "path too long for a unix socket (at most 100 bytes)")
		}
	}
	mode, err := strconv.ParseUint(c.AdminSocketMode, 8, 32)
	if err != nil || mode&^0o770 != 0 || mode&0o600 != 0o600 {
		return bad("admin-socket-mode", c.AdminSocketMode, "must be octal, owner read-write, nothing for others: 0600, 0660 or 0620")
	}
	if c.PokeMinInterval < 10*time.Millisecond || c.PokeMinInterval > time.Minute {
		return bad("poke-min-interval", c.PokeMinInterval, "must be between 10ms and 1m")
	}
	if argv := strings.Fields(c.OnChange); len(argv) > 0 {
		if _, err := exec.LookPath(argv[0]); err != nil {
			return bad("on-change", argv[0], "not found or not executable (set the full path)")
		}
	}
	if c.OnChangeTimeout <= 0 || c.OnChangeTimeout > 10*time.Minute {
		return bad("on-change-timeout", c.OnChangeTimeout, "must be between 1ms and 10m")
	}
	return nil
}

// AdminSocketPerm is the parsed --admin-socket-mode (valid after Validate).
func (c *Serve) AdminSocketPerm() os.FileMode {
	mode, _ := strconv.ParseUint(c.AdminSocketMode, 8, 32)
	return os.FileMode(mode)
}

// OnChangeArgv is --on-change split into a program and its arguments.
func (c *Serve) OnChangeArgv() []string { return strings.Fields(c.OnChange) }
