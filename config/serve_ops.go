package config

import (
	"errors"
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

// Admin holds the settings of the commands that talk to a running agent's
// admin socket: poke and maintenance.
type Admin struct {
	AdminSocket string        `env:"ADMIN_SOCKET" flag:"admin-socket" help:"the agent's admin socket (serve --admin-socket)"`
	Timeout     time.Duration `env:"ADMIN_TIMEOUT" envDefault:"2s" flag:"timeout" help:"give up after this long"`
}

// LoadAdmin reads the settings of an admin command and returns its
// positional arguments.
func LoadAdmin(name, synopsis string, args, environ []string, help interface{ Write([]byte) (int, error) }) (*Admin, []string, error) {
	cfg := &Admin{}
	rest, err := Load(cfg, name, synopsis, args, environ, help)
	if err != nil {
		return nil, nil, err
	}
	if cfg.AdminSocket == "" {
		return nil, nil, &Error{Flag: "admin-socket", Env: Prefix + "ADMIN_SOCKET", Err: errEmptySocket}
	}
	if cfg.Timeout <= 0 || cfg.Timeout > time.Minute {
		return nil, nil, &Error{Flag: "timeout", Env: Prefix + "ADMIN_TIMEOUT", Value: cfg.Timeout.String(), Err: errTimeout}
	}
	return cfg, rest, nil
}

// Status holds the settings of `iris-mirror-agent status`.
type Status struct {
	Timeout  time.Duration `env:"STATUS_TIMEOUT" envDefault:"2s" flag:"timeout" help:"give up on an agent after this long"`
	Watch    bool          `env:"STATUS_WATCH" envDefault:"false" flag:"watch" help:"refresh the table in place until interrupted"`
	Interval time.Duration `env:"STATUS_INTERVAL" envDefault:"2s" flag:"interval" help:"time between refreshes with --watch"`
	JSON     bool          `env:"STATUS_JSON" envDefault:"false" flag:"json" help:"print JSON instead of a table"`
}

// LoadStatus reads status's settings and returns the agent URLs.
func LoadStatus(args, environ []string, help interface{ Write([]byte) (int, error) }) (*Status, []string, error) {
	cfg := &Status{}
	rest, err := Load(cfg, "iris-mirror-agent status", StatusSynopsis, args, environ, help)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Timeout <= 0 || cfg.Timeout > time.Minute {
		return nil, nil, &Error{Flag: "timeout", Env: Prefix + "STATUS_TIMEOUT", Value: cfg.Timeout.String(), Err: errTimeout}
	}
	if cfg.Interval < 100*time.Millisecond || cfg.Interval > time.Hour {
		return nil, nil, &Error{Flag: "interval", Env: Prefix + "STATUS_INTERVAL", Value: cfg.Interval.String(), Err: errWatchInterval}
	}
	if len(rest) == 0 {
		return nil, nil, errNoURLs
	}
	return cfg, rest, nil
}

// StatusSynopsis is the help paragraph of status.
const StatusSynopsis = `iris-mirror-agent status [settings] URL...

Ask several agents (each URL an agent's base URL, such as http://ap1a:9797,
or its /status URL) and print one row per member, like patronictl list.
Exit 0 when exactly one member is a routable primary, 1 otherwise.`

var (
	errEmptySocket   = errors.New("empty: set the agent's admin socket path")
	errTimeout       = errors.New("must be between 1ms and 1m")
	errWatchInterval = errors.New("must be between 100ms and 1h")
	errNoURLs        = errors.New("no agent URL given (iris-mirror-agent status http://ap1a:9797 http://ap1b:9797)")
)
